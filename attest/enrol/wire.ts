// The three documents of enrolment, as JSON with base64 for bytes. They are exactly the bodies of
// the collector protocol (ARCHITECTURE.md "Device ⇄ collector protocol"), so the offline CLI files and
// the HTTP requests share these parsers:
//   request   POST /v1/enrol                        {ekCerts[], ekPublic, akPublic, akName, deviceKeyPublic,
//                                                    deviceKeyCertify{attest, signature}, facts{hostname, version}}
//   challenge 201 answer to it                       {enrolmentId, credentialBlob, encryptedSecret, expiresAt}
//   proof     POST /v1/enrol/{enrolmentId}/activate  {proof}
// Parsing is strict: unknown or missing members, wrong types, non-canonical base64 and sizes
// outside each field's bounds are refused before anything else looks at the bytes.
import { MAX_ENCRYPTED_SECRET, MAX_ID_OBJECT } from '../../hardware/index.ts';
import { AttestError } from '../errors.ts';
import { decodeBase64, isRecord, parseJSON } from '../encoding.ts';
import { EnrolError, type EnrolErrorCode } from './errors.ts';

/** Largest request document: a few EK certificates and NV chain CAs (each at most MAX_CERT_BYTES). */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** Largest challenge or proof document. */
export const MAX_SMALL_DOCUMENT_BYTES = 16 * 1024;
/** Most certificates a request carries: EK certificates of every NV slot and the NV chain CAs. */
export const MAX_EK_CERTS = 32;
/** Largest certificate in a request (EK certificates are 0.5–2 KiB, vendor CAs a few KiB). */
export const MAX_CERT_BYTES = 16 * 1024;
/** Largest TPMT_PUBLIC (an RSA-4096 key with a SHA-512 policy is about 600 bytes). */
export const MAX_PUBLIC_BYTES = 2048;
/** Largest TPMS_ATTEST or TPMT_SIGNATURE of a certification. */
export const MAX_ATTEST_BYTES = 2048;
/** The proof: HMAC-SHA256. */
export const PROOF_BYTES = 32;

export interface EnrolFacts {
  hostname: string;
  /** The tollgate version that made the request. */
  version: string;
}

export interface EnrolRequest {
  /** EK certificates and the CA certificates of the EK chain NV indexes, DER, in the order sent. */
  ekCerts: Buffer[];
  /** The EK's TPMT_PUBLIC (no TPM2B size). */
  ekPublic: Buffer;
  /** The AK's TPMT_PUBLIC. */
  akPublic: Buffer;
  /** The AK's Name (nameAlg ‖ H(akPublic)), as the TPM reports it. */
  akName: Buffer;
  /** The device key's TPMT_PUBLIC. */
  deviceKeyPublic: Buffer;
  /** TPM2_Certify of the device key by the AK: TPMS_ATTEST and TPMT_SIGNATURE. */
  deviceKeyCertify: { attest: Buffer; signature: Buffer };
  facts: EnrolFacts;
}

export interface EnrolChallenge {
  /** 32 lower-case hex digits (128 random bits): names the pending enrolment. */
  enrolmentId: string;
  /** TPM2B_ID_OBJECT body from MakeCredential. */
  credentialBlob: Buffer;
  /** TPM2B_ENCRYPTED_SECRET body from MakeCredential. */
  encryptedSecret: Buffer;
  /** ISO 8601 UTC; the verifier refuses a proof after it. */
  expiresAt: string;
}

export interface EnrolProof {
  /** HMAC-SHA256(secret, enrolmentId ‖ akName). */
  proof: Buffer;
}

export const ENROLMENT_ID_PATTERN = /^[0-9a-f]{32}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
/** Printable text: no control characters (they would reach logs and terminals). */
const TEXT = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u;

type Reader = {
  obj(v: unknown, at: string, keys: readonly string[]): Record<string, unknown>;
  bytes(v: unknown, at: string, min: number, max: number): Buffer;
  text(v: unknown, at: string, max: number): string;
};

function reader(code: EnrolErrorCode, doc: string): Reader {
  const fail = (at: string, why: string, cause?: unknown): never => {
    throw new EnrolError(code, `The ${doc} is not valid: ${at} ${why}.`, { ...(cause ? { cause } : {}), details: { field: at } });
  };
  return {
    obj(v, at, keys) {
      if (!isRecord(v)) return fail(at, 'must be a JSON object');
      for (const k of Object.keys(v)) if (!keys.includes(k)) fail(`${at}.${k}`, `is not a member of the ${doc} (it has ${keys.join(', ')})`);
      for (const k of keys) if (!(k in v)) fail(`${at}.${k}`, 'is missing');
      return v;
    },
    bytes(v, at, min, max) {
      let b: Buffer;
      try {
        b = decodeBase64(v, at);
      } catch (e) {
        if (e instanceof AttestError) return fail(at, 'must be a base64 string', e);
        throw e;
      }
      if (b.length < min || b.length > max) fail(at, `is ${b.length} bytes; it must be ${min === max ? min : `${min} to ${max}`}`);
      return b;
    },
    text(v, at, max) {
      if (typeof v !== 'string' || v.length === 0 || v.length > max || !TEXT.test(v)) fail(at, `must be 1 to ${max} printable characters`);
      return v as string;
    },
  };
}

function document(input: unknown, doc: string, code: EnrolErrorCode, maxBytes: number): unknown {
  if (!(input instanceof Uint8Array) && typeof input !== 'string') return input;
  try {
    return parseJSON(input, `The ${doc}`, { maxBytes, maxDepth: 8 });
  } catch (e) {
    if (e instanceof AttestError) throw new EnrolError(code, e.message, { cause: e, details: { reason: e.code } });
    throw e;
  }
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

// ------------------------------------------------------------------------------------------------
// Request

const REQUEST_KEYS = ['ekCerts', 'ekPublic', 'akPublic', 'akName', 'deviceKeyPublic', 'deviceKeyCertify', 'facts'] as const;

/** Parses an enrolment request (JSON bytes or text, or the parsed object). Throws ENROL_REQUEST_INVALID. */
export function parseEnrolRequest(input: Uint8Array | string | unknown): EnrolRequest {
  const r = reader('ENROL_REQUEST_INVALID', 'enrolment request');
  const o = r.obj(document(input, 'enrolment request', 'ENROL_REQUEST_INVALID', MAX_REQUEST_BYTES), 'request', REQUEST_KEYS);
  if (!Array.isArray(o.ekCerts) || o.ekCerts.length > MAX_EK_CERTS) {
    throw new EnrolError('ENROL_REQUEST_INVALID', `The enrolment request is not valid: request.ekCerts must be an array of at most ${MAX_EK_CERTS} base64 certificates.`, { details: { field: 'request.ekCerts' } });
  }
  const ekCerts = o.ekCerts.map((c, i) => r.bytes(c, `request.ekCerts[${i}]`, 1, MAX_CERT_BYTES));
  const certify = r.obj(o.deviceKeyCertify, 'request.deviceKeyCertify', ['attest', 'signature']);
  const facts = checkFacts(o.facts);
  return {
    ekCerts,
    ekPublic: r.bytes(o.ekPublic, 'request.ekPublic', 1, MAX_PUBLIC_BYTES),
    akPublic: r.bytes(o.akPublic, 'request.akPublic', 1, MAX_PUBLIC_BYTES),
    akName: r.bytes(o.akName, 'request.akName', 2, 2 + 64),
    deviceKeyPublic: r.bytes(o.deviceKeyPublic, 'request.deviceKeyPublic', 1, MAX_PUBLIC_BYTES),
    deviceKeyCertify: {
      attest: r.bytes(certify.attest, 'request.deviceKeyCertify.attest', 1, MAX_ATTEST_BYTES),
      signature: r.bytes(certify.signature, 'request.deviceKeyCertify.signature', 1, MAX_ATTEST_BYTES),
    },
    facts,
  };
}

/** The facts of a request: a host name of 1 to 255 and a version of 1 to 64 printable characters. */
export function checkFacts(v: unknown, code: EnrolErrorCode = 'ENROL_REQUEST_INVALID'): EnrolFacts {
  const r = reader(code, 'enrolment request');
  const f = r.obj(v, 'request.facts', ['hostname', 'version']);
  return { hostname: r.text(f.hostname, 'request.facts.hostname', 255), version: r.text(f.version, 'request.facts.version', 64) };
}

export interface EnrolRequestJSON {
  ekCerts: string[];
  ekPublic: string;
  akPublic: string;
  akName: string;
  deviceKeyPublic: string;
  deviceKeyCertify: { attest: string; signature: string };
  facts: EnrolFacts;
}

export function enrolRequestJSON(q: EnrolRequest): EnrolRequestJSON {
  return {
    ekCerts: q.ekCerts.map(b64), ekPublic: b64(q.ekPublic), akPublic: b64(q.akPublic), akName: b64(q.akName),
    deviceKeyPublic: b64(q.deviceKeyPublic),
    deviceKeyCertify: { attest: b64(q.deviceKeyCertify.attest), signature: b64(q.deviceKeyCertify.signature) },
    facts: { hostname: q.facts.hostname, version: q.facts.version },
  };
}

// ------------------------------------------------------------------------------------------------
// Challenge

/** The time of an ISO 8601 UTC timestamp, or undefined when it is not one. */
export function parseISOTime(s: unknown): Date | undefined {
  if (typeof s !== 'string' || !ISO_UTC.test(s)) return undefined;
  const d = new Date(s);
  // Date rolls 31 February over into March; a time that does not print back as written is refused.
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 19) !== s.slice(0, 19) ? undefined : d;
}

/** Checks an enrolment id's form (it names a file in the verifier's state directory). */
export function checkEnrolmentId(id: unknown, code: EnrolErrorCode = 'ENROL_ID_INVALID'): string {
  if (typeof id !== 'string' || !ENROLMENT_ID_PATTERN.test(id)) {
    throw new EnrolError(code, `The enrolment id ${typeof id === 'string' ? JSON.stringify(id.slice(0, 80)) : 'given'} is not one the verifier issues (32 lower-case hex digits).`);
  }
  return id;
}

/** Parses an enrolment challenge. Throws ENROL_CHALLENGE_INVALID. */
export function parseEnrolChallenge(input: Uint8Array | string | unknown): EnrolChallenge {
  const r = reader('ENROL_CHALLENGE_INVALID', 'enrolment challenge');
  const o = r.obj(document(input, 'enrolment challenge', 'ENROL_CHALLENGE_INVALID', MAX_SMALL_DOCUMENT_BYTES), 'challenge', ['enrolmentId', 'credentialBlob', 'encryptedSecret', 'expiresAt']);
  const enrolmentId = checkEnrolmentId(o.enrolmentId, 'ENROL_CHALLENGE_INVALID');
  if (!parseISOTime(o.expiresAt)) throw new EnrolError('ENROL_CHALLENGE_INVALID', 'The enrolment challenge is not valid: challenge.expiresAt must be an ISO 8601 UTC time.', { details: { field: 'challenge.expiresAt' } });
  return {
    enrolmentId,
    credentialBlob: r.bytes(o.credentialBlob, 'challenge.credentialBlob', 1, MAX_ID_OBJECT),
    encryptedSecret: r.bytes(o.encryptedSecret, 'challenge.encryptedSecret', 1, MAX_ENCRYPTED_SECRET),
    expiresAt: o.expiresAt as string,
  };
}

export interface EnrolChallengeJSON {
  enrolmentId: string;
  credentialBlob: string;
  encryptedSecret: string;
  expiresAt: string;
}

export function enrolChallengeJSON(c: EnrolChallenge): EnrolChallengeJSON {
  return { enrolmentId: c.enrolmentId, credentialBlob: b64(c.credentialBlob), encryptedSecret: b64(c.encryptedSecret), expiresAt: c.expiresAt };
}

// ------------------------------------------------------------------------------------------------
// Proof

/** Parses an activation proof. Throws ENROL_PROOF_INVALID. */
export function parseEnrolProof(input: Uint8Array | string | unknown): EnrolProof {
  const r = reader('ENROL_PROOF_INVALID', 'activation proof');
  const o = r.obj(document(input, 'activation proof', 'ENROL_PROOF_INVALID', MAX_SMALL_DOCUMENT_BYTES), 'proof', ['proof']);
  return { proof: r.bytes(o.proof, 'proof.proof', PROOF_BYTES, PROOF_BYTES) };
}

export function enrolProofJSON(p: EnrolProof): { proof: string } {
  return { proof: b64(p.proof) };
}

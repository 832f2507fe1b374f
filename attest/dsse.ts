// DSSE v1 envelopes (https://github.com/secure-systems-lab/dsse): parse strictly, verify against
// keys with a threshold of DISTINCT keys, and sign through a Signer so a TPM-resident key can take
// the place of a software key without this module changing.
import { constants, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { AttestError } from './errors.ts';
import { decodeBase64, isRecord, parseJSON, type JSONLimits } from './encoding.ts';
import { checkScheme, defaultScheme, keyFingerprint, schemeHash, verifySignature, type SignatureScheme, type VerificationKey } from './keys.ts';

export interface Signature {
  keyid?: string;
  sig: Buffer;
}

export interface Envelope {
  payloadType: string;
  payload: Buffer;
  signatures: Signature[];
}

/** The JSON form: payload and signatures base64. */
export interface EnvelopeJSON {
  payloadType: string;
  payload: string;
  signatures: Array<{ keyid?: string; sig: string }>;
}

/** Bounds the work an envelope can ask for (every signature is tried against every key). */
export const MAX_SIGNATURES = 32;

/** Pre-Authentication Encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** Parses an envelope from JSON text/bytes or an already-parsed value. */
export function parseEnvelope(input: string | Uint8Array | unknown, what = 'DSSE envelope', limits?: JSONLimits): Envelope {
  const v = typeof input === 'string' || input instanceof Uint8Array ? parseJSON(input, what, limits) : input;
  if (!isRecord(v)) throw new AttestError('DSSE_MALFORMED', `${what} must be a JSON object.`);
  if (typeof v.payloadType !== 'string' || v.payloadType === '') throw new AttestError('DSSE_MALFORMED', `${what} has no payloadType.`);
  if (typeof v.payload !== 'string') throw new AttestError('DSSE_MALFORMED', `${what} has no payload.`);
  if (!Array.isArray(v.signatures) || v.signatures.length === 0) throw new AttestError('DSSE_MALFORMED', `${what} has no signatures.`);
  if (v.signatures.length > MAX_SIGNATURES) {
    throw new AttestError('DSSE_MALFORMED', `${what} carries ${v.signatures.length} signatures, more than the ${MAX_SIGNATURES} accepted.`);
  }
  const payload = decodeBase64(v.payload, `${what} payload`);
  const signatures = v.signatures.map((s, i): Signature => {
    if (!isRecord(s)) throw new AttestError('DSSE_MALFORMED', `${what} signatures[${i}] must be an object.`);
    if (s.keyid !== undefined && typeof s.keyid !== 'string') throw new AttestError('DSSE_MALFORMED', `${what} signatures[${i}].keyid must be a string.`);
    const sig = decodeBase64(s.sig, `${what} signatures[${i}].sig`);
    if (sig.length === 0) throw new AttestError('DSSE_MALFORMED', `${what} signatures[${i}].sig is empty.`);
    return s.keyid ? { keyid: s.keyid, sig } : { sig };
  });
  return { payloadType: v.payloadType, payload, signatures };
}

export function envelopeToJSON(env: Envelope): EnvelopeJSON {
  return {
    payloadType: env.payloadType,
    payload: env.payload.toString('base64'),
    signatures: env.signatures.map((s) => ({ ...(s.keyid ? { keyid: s.keyid } : {}), sig: s.sig.toString('base64') })),
  };
}

export interface EnvelopeVerification {
  /** True when at least `threshold` distinct keys signed. */
  verified: boolean;
  threshold: number;
  /** keyids (as the policy names them) of the distinct keys with a valid signature. */
  validKeyids: string[];
  /** Signatures that no trusted key verified (index and keyid hint). */
  unverified: Array<{ index: number; keyid?: string }>;
}

/**
 * Verifies an envelope against trusted keys. Keys are deduplicated by their SPKI fingerprint, so
 * one key listed twice (under two keyids) or two signatures by the same key count once. A keyid
 * in the envelope only decides which key is tried first: every trusted key is tried.
 */
export function verifyEnvelope(env: Envelope, keys: VerificationKey[], threshold = 1): EnvelopeVerification {
  if (!Number.isInteger(threshold) || threshold < 1) throw new AttestError('DSSE_THRESHOLD_INVALID', `The signature threshold must be a positive integer, not ${threshold}.`, 'usage');
  const distinct = new Map<string, VerificationKey[]>();
  for (const k of keys) {
    const fp = keyFingerprint(k.key);
    const list = distinct.get(fp);
    if (list) list.push(k);
    else distinct.set(fp, [k]);
  }
  if (threshold > distinct.size) {
    throw new AttestError('DSSE_THRESHOLD_INVALID', `The signature threshold ${threshold} exceeds the ${distinct.size} distinct trusted key(s).`, 'usage');
  }
  const data = pae(env.payloadType, env.payload);
  const satisfied = new Map<string, string>(); // fingerprint → keyid
  const unverified: EnvelopeVerification['unverified'] = [];
  env.signatures.forEach((s, index) => {
    const order = [...distinct.entries()].sort(([, a], [, b]) => Number(b.some((k) => k.keyid === s.keyid)) - Number(a.some((k) => k.keyid === s.keyid)));
    for (const [fp, ks] of order) {
      // A key listed under several schemes/keyids: any of its entries may verify.
      const hit = ks.find((k) => verifySignature(k, data, s.sig));
      if (hit) {
        if (!satisfied.has(fp)) satisfied.set(fp, hit.keyid);
        return;
      }
    }
    unverified.push({ index, ...(s.keyid ? { keyid: s.keyid } : {}) });
  });
  return { verified: satisfied.size >= threshold, threshold, validKeyids: [...satisfied.values()], unverified };
}

/** Anything that can sign PAE bytes: a software key now, a TPM-resident key later. */
export interface Signer {
  keyid: string;
  sign(pae: Uint8Array): Promise<Uint8Array>;
}

/** A Signer over a private KeyObject (ECDSA signatures DER-encoded, RSA as the scheme says). */
export function softwareSigner(privateKey: KeyObject, options: { keyid?: string; scheme?: SignatureScheme } = {}): Signer {
  const pub = createPublicKey(privateKey);
  const scheme = options.scheme ?? defaultScheme(pub);
  checkScheme(pub, scheme, 'signing key');
  const hash = schemeHash(scheme);
  const keyid = options.keyid ?? keyFingerprint(pub);
  return {
    keyid,
    async sign(data: Uint8Array): Promise<Uint8Array> {
      if (scheme === 'ed25519') return cryptoSign(null, data, privateKey);
      if (scheme.startsWith('ecdsa-')) return cryptoSign(hash, data, { key: privateKey, dsaEncoding: 'der' });
      if (scheme.startsWith('rsassa-pss-')) return cryptoSign(hash, data, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
      return cryptoSign(hash, data, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
    },
  };
}

/** Signs a payload with every signer (each signs the same PAE). */
export async function signEnvelope(payloadType: string, payload: Uint8Array, signers: Signer[]): Promise<Envelope> {
  if (signers.length === 0) throw new AttestError('DSSE_NO_SIGNER', 'At least one signer is needed to sign an envelope.', 'usage');
  const data = pae(payloadType, payload);
  const signatures: Signature[] = [];
  for (const s of signers) signatures.push({ keyid: s.keyid, sig: Buffer.from(await s.sign(data)) });
  return { payloadType, payload: Buffer.from(payload), signatures };
}

// COSE_Sign1 (RFC 9052 §4.2, §4.4) with ECDSA: ES256 (P-256, SHA-256) and ES384 (P-384, SHA-384),
// signatures as raw r‖s (RFC 9053 §2.1).
//
// tollgate's rules on top of RFC 9052, so a verifier never has to guess:
//   - `alg` MUST be in the protected header (an unprotected-only alg is refused: it could be
//     swapped without breaking the signature), and no label may be in both buckets;
//   - `crit` may only name labels this code understands, and they must be present;
//   - the payload is attached (no detached payloads);
//   - the Sig_structure is ["Signature1", protected bstr, external_aad, payload], encoded
//     deterministically, and the signature is over it (digest = SHA-256/384 of it).
// Signing goes through CoseSigner so the TPM-resident device key (TPM2_Sign takes a digest) can sign.
import { createHash, createPublicKey, sign as nodeSign, verify as nodeVerify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { types } from 'node:util';
import { isTollgateError } from '../../hardware/index.ts';
import { decodeCBOR, decodeCBORTagged, encodeCBOR, encodeTaggedCBOR, isBytes, isCborMap, type CborKey, type CborLimits, type CborMap, type CborValue } from './cbor.ts';
import { CborError, CoseError } from './errors.ts';

/** CBOR tag of a tagged COSE_Sign1. */
export const COSE_SIGN1_TAG = 18;

/** COSE algorithm identifiers tollgate signs and verifies with. */
export const COSE_ALG = { ES256: -7, ES384: -35 } as const;
export type CoseAlg = (typeof COSE_ALG)[keyof typeof COSE_ALG];

/** Common COSE header labels (RFC 9052 §3.1; typ: RFC 9596). */
export const COSE_HEADER = { alg: 1, crit: 2, contentType: 3, kid: 4, typ: 16 } as const;

interface AlgInfo {
  name: 'ES256' | 'ES384';
  hash: 'sha256' | 'sha384';
  /** Node's name of the curve, and the JWK name. */
  curve: 'prime256v1' | 'secp384r1';
  crv: 'P-256' | 'P-384';
  /** Size of r and of s in bytes. */
  size: number;
}

const ALGS: Record<CoseAlg, AlgInfo> = {
  [-7]: { name: 'ES256', hash: 'sha256', curve: 'prime256v1', crv: 'P-256', size: 32 },
  [-35]: { name: 'ES384', hash: 'sha384', curve: 'secp384r1', crv: 'P-384', size: 48 },
};

export function isCoseAlg(v: unknown): v is CoseAlg {
  return v === COSE_ALG.ES256 || v === COSE_ALG.ES384;
}

/** The JOSE name (ES256/ES384), hash and curve of a COSE algorithm. */
export function coseAlgInfo(alg: CoseAlg): Readonly<AlgInfo> {
  return ALGS[alg];
}

/**
 * Signs for COSE (and JWS: same ECDSA). `digest` is the hash of `toBeSigned` under the algorithm's
 * hash; a TPM signs the digest (TPM2_Sign), a software key may sign `toBeSigned` itself.
 */
export interface CoseSigner {
  alg: CoseAlg;
  /** Put in the protected header as kid (label 4) when present. */
  kid?: Uint8Array;
  sign(digest: Uint8Array, toBeSigned: Uint8Array): Promise<{ r: Uint8Array; s: Uint8Array }>;
}

/** A CoseSigner over a private P-256 or P-384 KeyObject (for verifiers and tests). */
export function softwareCoseSigner(privateKey: KeyObject, options: { kid?: Uint8Array } = {}): CoseSigner {
  if (privateKey.type !== 'private') throw new CoseError('COSE_KEY_MISMATCH', 'A COSE signer needs a private key.');
  const alg = algOfKey(privateKey);
  const info = ALGS[alg];
  return {
    alg,
    ...(options.kid ? { kid: options.kid } : {}),
    async sign(_digest: Uint8Array, toBeSigned: Uint8Array) {
      const sig = nodeSign(info.hash, toBeSigned, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return { r: sig.subarray(0, info.size), s: sig.subarray(info.size) };
    },
  };
}

function algOfKey(key: KeyObject): CoseAlg {
  const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  if (curve === 'prime256v1') return COSE_ALG.ES256;
  if (curve === 'secp384r1') return COSE_ALG.ES384;
  throw new CoseError('COSE_KEY_MISMATCH', `The key is ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` on ${curve}` : ''}; COSE signing here takes an ECDSA P-256 (ES256) or P-384 (ES384) key.`);
}

/** The Sig_structure for COSE_Sign1 (RFC 9052 §4.4), deterministically encoded. */
export function sigStructure(protectedBytes: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCBOR(['Signature1', protectedBytes, externalAad, payload]);
}

/** r‖s from a signer's (r, s): each left-padded to the curve size; longer is an error. */
export function rawSignature(alg: CoseAlg, r: Uint8Array, s: Uint8Array): Uint8Array {
  const size = ALGS[alg].size;
  const out = new Uint8Array(2 * size);
  const put = (v: Uint8Array, at: number, n: string) => {
    let i = 0;
    while (i < v.length && v[i] === 0) i++;
    if (v.length - i > size) throw new CoseError('COSE_SIGNER_FAILED', `The signer returned a ${v.length}-byte ${n}, more than ${ALGS[alg].name} allows.`);
    out.set(v.subarray(i), at + size - (v.length - i));
  };
  put(r, 0, 'r');
  put(s, size, 's');
  return out;
}

export interface Sign1Options {
  /** Protected header parameters besides alg (and kid, which comes from the signer). */
  protectedHeader?: CborMap;
  unprotectedHeader?: CborMap;
  externalAad?: Uint8Array;
  /** Emit tag 18 (default true). */
  tagged?: boolean;
}

/** Creates a COSE_Sign1 over `payload`. */
export async function signSign1(payload: Uint8Array, signer: CoseSigner, options: Sign1Options = {}): Promise<Uint8Array> {
  if (!isCoseAlg(signer.alg)) throw new CoseError('COSE_ALG_UNSUPPORTED', `The signer's algorithm ${String(signer.alg)} is not ES256 (-7) or ES384 (-35).`);
  const prot: CborMap = new Map(options.protectedHeader ?? []);
  prot.set(COSE_HEADER.alg, signer.alg);
  if (signer.kid) prot.set(COSE_HEADER.kid, signer.kid);
  const unprot: CborMap = new Map(options.unprotectedHeader ?? []);
  for (const k of unprot.keys()) {
    if (prot.has(k)) throw new CoseError('COSE_HEADER_INVALID', `Header label ${String(k)} cannot be both protected and unprotected.`);
  }
  checkHeaderValues(prot, 'protected');
  checkHeaderValues(unprot, 'unprotected');
  const protectedBytes = encodeCBOR(prot);
  const tbs = sigStructure(protectedBytes, options.externalAad ?? new Uint8Array(0), payload);
  const digest = createHash(ALGS[signer.alg].hash).update(tbs).digest();
  let rs: { r: Uint8Array; s: Uint8Array };
  try {
    rs = await signer.sign(digest, tbs);
  } catch (e) {
    if (isTollgateError(e)) throw e; // already typed (e.g. a TPM error)
    throw new CoseError('COSE_SIGNER_FAILED', `The signer failed: ${(e as Error).message}`, { cause: e });
  }
  const sig = rawSignature(signer.alg, rs.r, rs.s);
  const msg: CborValue = [protectedBytes, unprot, payload, sig];
  return options.tagged === false ? encodeCBOR(msg) : encodeTaggedCBOR(COSE_SIGN1_TAG, msg);
}

/** A decoded COSE_Sign1 (structure checked, signature not yet verified). */
export interface Sign1 {
  tagged: boolean;
  /** The protected header exactly as received (the signature covers these bytes). */
  protectedBytes: Uint8Array;
  protectedHeader: CborMap;
  unprotectedHeader: CborMap;
  payload: Uint8Array;
  signature: Uint8Array;
  alg: CoseAlg;
  kid?: Uint8Array;
}

export interface DecodeSign1Options extends CborLimits {
  /** 'required': refuse an untagged message; 'optional' (default): accept tag 18 or no tag. */
  tag?: 'required' | 'optional';
}

const MAX_HEADER_BYTES = 64 * 1024;

function malformed(what: string, cause?: unknown): CoseError {
  return new CoseError('COSE_MALFORMED', `The COSE_Sign1 is malformed: ${what}.`, cause === undefined ? undefined : { cause });
}

/** Decodes a COSE_Sign1 and checks its structure and headers (not the signature). */
export function decodeSign1(bytes: Uint8Array, options: DecodeSign1Options = {}): Sign1 {
  let tag: number | undefined;
  let v: CborValue;
  try {
    ({ tag, value: v } = decodeCBORTagged(bytes, { ...options, tags: [COSE_SIGN1_TAG] }));
  } catch (e) {
    if (e instanceof CborError && e.code === 'CBOR_TAG_NOT_ALLOWED' && e.details?.offset === 0) {
      throw new CoseError('COSE_WRONG_TAG', `The message is tagged ${String(e.details.tag)}, not COSE_Sign1 (18).`, { cause: e });
    }
    throw e;
  }
  if (options.tag === 'required' && tag === undefined) throw new CoseError('COSE_WRONG_TAG', 'The message has no COSE_Sign1 tag (18), which is required here.');
  if (!Array.isArray(v) || v.length !== 4) throw malformed(`it must be an array of 4 items, not ${Array.isArray(v) ? `${v.length} items` : describe(v)}`);
  const [p, u, payload, signature] = v as [CborValue, CborValue, CborValue, CborValue];
  if (!isBytes(p)) throw malformed(`the protected header must be a byte string, not ${describe(p)}`);
  if (!isCborMap(u)) throw malformed(`the unprotected header must be a map, not ${describe(u)}`);
  if (payload === null) throw new CoseError('COSE_DETACHED_PAYLOAD', 'The COSE_Sign1 has a detached payload (nil); tollgate accepts attached payloads only.');
  if (!isBytes(payload)) throw malformed(`the payload must be a byte string, not ${describe(payload)}`);
  if (!isBytes(signature)) throw malformed(`the signature must be a byte string, not ${describe(signature)}`);
  let prot: CborMap;
  if (p.length === 0) prot = new Map();
  else {
    let ph: CborValue;
    try {
      ph = decodeCBOR(p, { maxBytes: MAX_HEADER_BYTES, maxDepth: 4, maxItems: 1024 });
    } catch (e) {
      if (e instanceof CborError) throw new CoseError('COSE_HEADER_INVALID', `The protected header is not valid CBOR: ${e.message}`, { cause: e });
      throw e;
    }
    if (!isCborMap(ph)) throw new CoseError('COSE_HEADER_INVALID', `The protected header must encode a map, not ${describe(ph)}.`);
    prot = ph;
  }
  for (const k of u.keys()) {
    if (prot.has(k)) throw new CoseError('COSE_HEADER_INVALID', `Header label ${String(k)} is both protected and unprotected.`);
  }
  checkHeaderValues(prot, 'protected');
  checkHeaderValues(u, 'unprotected');
  const alg = prot.get(COSE_HEADER.alg);
  if (alg === undefined) {
    if (u.has(COSE_HEADER.alg)) throw new CoseError('COSE_ALG_UNPROTECTED', 'The algorithm (alg) is only in the unprotected header; tollgate requires it to be protected.');
    throw new CoseError('COSE_ALG_MISSING', 'The COSE_Sign1 names no algorithm (alg, label 1) in its protected header.');
  }
  if (!isCoseAlg(alg)) throw new CoseError('COSE_ALG_UNSUPPORTED', `The algorithm ${JSON.stringify(typeof alg === 'bigint' ? String(alg) : alg)} is not one tollgate verifies (ES256 = -7, ES384 = -35).`, { details: { alg: String(alg) } });
  checkCrit(prot, u);
  if (signature.length !== 2 * ALGS[alg].size) {
    throw new CoseError('COSE_SIGNATURE_INVALID', `The ${ALGS[alg].name} signature is ${signature.length} bytes; it must be ${2 * ALGS[alg].size} (r‖s).`);
  }
  const kid = prot.get(COSE_HEADER.kid) ?? u.get(COSE_HEADER.kid);
  return {
    tagged: tag !== undefined,
    protectedBytes: p,
    protectedHeader: prot,
    unprotectedHeader: u,
    payload,
    signature,
    alg,
    ...(isBytes(kid) ? { kid } : {}),
  };
}

/** Value types of the header parameters tollgate understands (RFC 9052 §3.1, RFC 9596). */
function checkHeaderValues(h: CborMap, which: string): void {
  const bad = (label: string, want: string) => new CoseError('COSE_HEADER_INVALID', `The ${which} header's ${label} must be ${want}.`);
  const alg = h.get(COSE_HEADER.alg);
  if (alg !== undefined && typeof alg !== 'number' && typeof alg !== 'string') throw bad('alg (1)', 'an integer or a text string');
  const crit = h.get(COSE_HEADER.crit);
  if (crit !== undefined && (!Array.isArray(crit) || crit.length === 0 || !crit.every((c) => typeof c === 'number' || typeof c === 'string'))) throw bad('crit (2)', 'a non-empty array of labels');
  const ct = h.get(COSE_HEADER.contentType);
  if (ct !== undefined && !(typeof ct === 'string' || (typeof ct === 'number' && ct >= 0))) throw bad('content type (3)', 'an unsigned integer or a text string');
  const kid = h.get(COSE_HEADER.kid);
  if (kid !== undefined && !isBytes(kid)) throw bad('kid (4)', 'a byte string');
  const typ = h.get(COSE_HEADER.typ);
  if (typ !== undefined && !(typeof typ === 'string' || (typeof typ === 'number' && typ >= 0))) throw bad('typ (16)', 'an unsigned integer or a text string');
}

const UNDERSTOOD = new Set<CborKey>(Object.values(COSE_HEADER));

function checkCrit(prot: CborMap, unprot: CborMap): void {
  if (unprot.has(COSE_HEADER.crit)) throw new CoseError('COSE_HEADER_INVALID', 'crit (2) must be in the protected header.');
  const crit = prot.get(COSE_HEADER.crit) as CborKey[] | undefined;
  for (const label of crit ?? []) {
    if (!UNDERSTOOD.has(label)) throw new CoseError('COSE_CRIT_UNSUPPORTED', `The COSE_Sign1 marks header ${JSON.stringify(label)} critical, and tollgate does not understand it.`, { details: { label } });
    if (!prot.has(label)) throw new CoseError('COSE_HEADER_INVALID', `crit names header ${JSON.stringify(label)}, which the protected header does not carry.`);
  }
}

function describe(v: CborValue | undefined): string {
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return 'a byte string';
  if (v instanceof Map) return 'a map';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/** A public key for verification: a KeyObject (public or private) or an EC JWK. */
export type CoseVerifyKey = KeyObject | JsonWebKey;

export function publicKeyOf(key: CoseVerifyKey): KeyObject {
  try {
    if (types.isKeyObject(key)) {
      if (key.type === 'secret') throw new Error('a secret key is not a public key');
      return key.type === 'private' ? createPublicKey(key) : key;
    }
    const jwk = key as JsonWebKey;
    // Only public members: a JWK with "d" still yields its public key.
    return createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as JsonWebKey, format: 'jwk' });
  } catch (e) {
    throw new CoseError('COSE_KEY_MISMATCH', `The verification key cannot be used: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Verifies a decoded COSE_Sign1 with `key`; throws COSE_KEY_MISMATCH when the key does not fit
 * the algorithm, COSE_SIGNATURE_INVALID when the signature does not verify.
 */
export function verifySign1(msg: Sign1, key: CoseVerifyKey, options: { externalAad?: Uint8Array } = {}): void {
  const info = ALGS[msg.alg];
  const pub = publicKeyOf(key);
  const curve = pub.asymmetricKeyType === 'ec' ? pub.asymmetricKeyDetails?.namedCurve : undefined;
  if (curve !== info.curve) {
    throw new CoseError('COSE_KEY_MISMATCH', `The message is signed with ${info.name}, which needs a ${info.crv} key; the key given is ${curve ?? pub.asymmetricKeyType ?? 'unknown'}.`);
  }
  const tbs = sigStructure(msg.protectedBytes, options.externalAad ?? new Uint8Array(0), msg.payload);
  let ok = false;
  try {
    ok = nodeVerify(info.hash, tbs, { key: pub, dsaEncoding: 'ieee-p1363' }, msg.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new CoseError('COSE_SIGNATURE_INVALID', `The COSE_Sign1 signature does not verify with the given ${info.crv} key: the message was altered or signed by another key.`);
}

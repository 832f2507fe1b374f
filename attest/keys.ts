// Public keys named by policy or TUF, their signature schemes, and signature checks. A scheme is
// bound to its key type (an RSA key can never verify as ECDSA and so on). ECDSA signatures are
// accepted DER-encoded or as IEEE P1363 r‖s, since DSSE and Sigstore producers use both.
import { constants, createHash, createPublicKey, publicDecrypt, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { AttestError } from './errors.ts';
import { curveOf, parseECDSASignature, verifyECDSADigest } from './ecdsa.ts';
import type { DigestAlgorithm } from './digest.ts';

export const SIGNATURE_SCHEMES = [
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ed25519',
  'rsassa-pss-sha256',
  'rsassa-pss-sha384',
  'rsassa-pss-sha512',
  'rsa-pkcs1v15-sha256',
  'rsa-pkcs1v15-sha384',
  'rsa-pkcs1v15-sha512',
] as const;
export type SignatureScheme = (typeof SIGNATURE_SCHEMES)[number];

export function isSignatureScheme(s: unknown): s is SignatureScheme {
  return typeof s === 'string' && (SIGNATURE_SCHEMES as readonly string[]).includes(s);
}

export interface VerificationKey {
  /** The policy's name for the key (a hint in envelopes, never trust by itself). */
  keyid: string;
  key: KeyObject;
  scheme: SignatureScheme;
  /** When the key may have signed (checked against a bundle's log/TSA time); unbounded when absent. */
  validFor?: { start: Date; end?: Date };
}

/** sha256 of the SubjectPublicKeyInfo DER, hex: identifies a key regardless of how it was named. */
export function keyFingerprint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('hex');
}

/** Parses a PEM (SPKI or certificate) public key. */
export function parsePublicKeyPEM(pem: string, what: string): KeyObject {
  // createPublicKey would happily derive a public key from a private one; a private key in a
  // policy or on the command line is a mistake worth stopping.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new AttestError('KEY_IS_PRIVATE', `${what} is a PRIVATE key; give the public key (e.g. openssl pkey -pubout).`, 'usage');
  }
  try {
    const key = createPublicKey(pem);
    if (key.type !== 'public') throw new Error('not a public key');
    return key;
  } catch (e) {
    throw new AttestError('KEY_INVALID', `${what} is not a PEM public key (${(e as Error).message}).`, 'usage', { cause: e });
  }
}

/** The scheme a key implies when none is named; RSA keys default to PKCS#1 v1.5 with SHA-256 (cosign's default). */
export function defaultScheme(key: KeyObject): SignatureScheme {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const c = key.asymmetricKeyDetails?.namedCurve;
      if (c === 'prime256v1') return 'ecdsa-sha2-nistp256';
      if (c === 'secp384r1') return 'ecdsa-sha2-nistp384';
      throw new AttestError('KEY_UNSUPPORTED', `EC curve ${c} is not supported (use P-256 or P-384).`, 'usage');
    }
    case 'ed25519':
      return 'ed25519';
    case 'rsa':
      return 'rsa-pkcs1v15-sha256';
    case 'rsa-pss':
      return 'rsassa-pss-sha256';
    default:
      throw new AttestError('KEY_UNSUPPORTED', `Key type ${key.asymmetricKeyType} is not supported.`, 'usage');
  }
}

/** Checks that a scheme fits the key; throws KEY_SCHEME_MISMATCH otherwise. */
export function checkScheme(key: KeyObject, scheme: SignatureScheme, what: string): void {
  const t = key.asymmetricKeyType;
  const ok =
    (scheme === 'ecdsa-sha2-nistp256' && t === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') ||
    (scheme === 'ecdsa-sha2-nistp384' && t === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') ||
    (scheme === 'ed25519' && t === 'ed25519') ||
    (scheme.startsWith('rsassa-pss-') && (t === 'rsa' || t === 'rsa-pss')) ||
    (scheme.startsWith('rsa-pkcs1v15-') && t === 'rsa');
  if (!ok) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new AttestError('KEY_SCHEME_MISMATCH', `${what}: scheme ${scheme} does not fit a ${t}${curve ? ` (${curve})` : ''} key.`, 'usage');
  }
  if (t === 'rsa' || t === 'rsa-pss') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new AttestError('KEY_TOO_WEAK', `${what}: RSA keys must have at least 2048 bits, this one has ${bits}.`, 'usage');
  }
}

export function makeVerificationKey(keyid: string, pem: string, scheme?: SignatureScheme): VerificationKey {
  const key = parsePublicKeyPEM(pem, `key ${keyid}`);
  const s = scheme ?? defaultScheme(key);
  checkScheme(key, s, `key ${keyid}`);
  return { keyid, key, scheme: s };
}

export function schemeHash(scheme: SignatureScheme): DigestAlgorithm | null {
  if (scheme === 'ed25519') return null;
  if (scheme === 'ecdsa-sha2-nistp384' || scheme.endsWith('sha384')) return 'sha384';
  if (scheme.endsWith('sha512')) return 'sha512';
  return 'sha256';
}

/** Verifies `sig` over `data` under the key's scheme. Never throws for a bad signature. */
export function verifySignature(vk: VerificationKey, data: Uint8Array, sig: Uint8Array): boolean {
  const hash = schemeHash(vk.scheme);
  try {
    if (vk.scheme === 'ed25519') return cryptoVerify(null, data, vk.key, sig);
    if (vk.scheme.startsWith('ecdsa-')) {
      const c = curveOf(vk.key);
      if (!c) return false;
      // Try DER first; an r‖s signature of exactly 2×coordinate length is the P1363 form.
      if (sig[0] === 0x30 && safeVerify(hash, data, { key: vk.key, dsaEncoding: 'der' }, sig)) return true;
      if (sig.length === 2 * c.bytes) return safeVerify(hash, data, { key: vk.key, dsaEncoding: 'ieee-p1363' }, sig);
      return false;
    }
    if (vk.scheme.startsWith('rsassa-pss-')) {
      return cryptoVerify(hash, data, { key: vk.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig);
    }
    return cryptoVerify(hash, data, { key: vk.key, padding: constants.RSA_PKCS1_PADDING }, sig);
  } catch {
    return false;
  }
}

function safeVerify(hash: string | null, data: Uint8Array, key: Parameters<typeof cryptoVerify>[2], sig: Uint8Array): boolean {
  try {
    return cryptoVerify(hash, data, key, sig);
  } catch {
    return false;
  }
}

const DIGEST_INFO_PREFIX: Record<DigestAlgorithm, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

/**
 * Verifies a signature made over a message whose `alg` digest is `digest`, without the message:
 * ECDSA by curve arithmetic, RSA by recovering the encoded digest. Ed25519 signs the message
 * itself and cannot be checked this way (returns undefined so the caller can explain).
 */
export function verifySignatureOverDigest(key: KeyObject, alg: DigestAlgorithm, digest: Uint8Array, sig: Uint8Array): boolean | undefined {
  const t = key.asymmetricKeyType;
  if (t === 'ec') {
    const c = curveOf(key);
    if (!c || !parseECDSASignature(sig, c.bytes)) return false;
    return verifyECDSADigest(key, digest, sig);
  }
  if (t === 'rsa' || t === 'rsa-pss') {
    try {
      const em = publicRaw(key, sig);
      return em !== undefined && (pkcs1Matches(em, alg, digest) || pssMatches(em, key, alg, digest));
    } catch {
      return false;
    }
  }
  return undefined;
}

function publicRaw(key: KeyObject, sig: Uint8Array): Buffer | undefined {
  const k = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  if (sig.length !== k) return undefined;
  // The bare RSA public operation s^e mod n; the padding is checked below, not by OpenSSL.
  return publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, sig);
}

function pkcs1Matches(em: Buffer, alg: DigestAlgorithm, digest: Uint8Array): boolean {
  // EM = 00 01 FF…FF 00 DigestInfo
  if (em[0] !== 0x00 || em[1] !== 0x01) return false;
  let i = 2;
  while (i < em.length && em[i] === 0xff) i++;
  if (i < 10 || em[i] !== 0x00) return false;
  const t = em.subarray(i + 1).toString('hex');
  return t === DIGEST_INFO_PREFIX[alg] + Buffer.from(digest).toString('hex');
}

function pssMatches(em: Buffer, key: KeyObject, alg: DigestAlgorithm, mHash: Uint8Array): boolean {
  const modBits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  let e = em;
  if (e.length > emLen) {
    if (e[0] !== 0) return false;
    e = e.subarray(e.length - emLen);
  }
  const hLen = mHash.length;
  if (emLen < hLen + 2 || e[emLen - 1] !== 0xbc) return false;
  const maskedDB = e.subarray(0, emLen - hLen - 1);
  const H = e.subarray(emLen - hLen - 1, emLen - 1);
  const topBits = 8 * emLen - emBits;
  if (topBits > 0 && (maskedDB[0]! >> (8 - topBits)) !== 0) return false;
  const mask = mgf1(alg, H, maskedDB.length);
  const db = Buffer.alloc(maskedDB.length);
  for (let i = 0; i < db.length; i++) db[i] = maskedDB[i]! ^ mask[i]!;
  if (topBits > 0) db[0] = db[0]! & (0xff >> topBits);
  let i = 0;
  while (i < db.length && db[i] === 0) i++;
  if (i >= db.length || db[i] !== 0x01) return false;
  const salt = db.subarray(i + 1);
  const h2 = createHash(alg).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  return h2.equals(H);
}

function mgf1(alg: DigestAlgorithm, seed: Uint8Array, len: number): Buffer {
  const out: Buffer[] = [];
  let have = 0;
  for (let c = 0; have < len; c++) {
    const ctr = Buffer.alloc(4);
    ctr.writeUInt32BE(c);
    const h = createHash(alg).update(seed).update(ctr).digest();
    out.push(h);
    have += h.length;
  }
  return Buffer.concat(out).subarray(0, len);
}

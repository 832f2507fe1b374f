// TPM signatures at byte level: ECDSA (r, s) ↔ DER, and verification of RSASSA-PKCS1-v1_5,
// RSASSA-PSS and ECDSA over a digest the caller computed (a TPM signs digests, and a quote's
// digest is what we hold). RSA is done with bigint arithmetic so no hashing is imposed.
import { bigIntToBytes, bytesToBigInt, concat, equalBytes, fitUnsigned, fromHex, ByteReader } from './bytes.ts';
import { curveParams, ecdsaVerifyDigest, type EccCurve } from './ecc.ts';
import { digestSize, hash, type HashAlg } from './hash.ts';
import { rsaExponent, rsaModulus, type PublicKeyBytes } from './pubkey.ts';
import { invalidArgument, malformed } from './errors.ts';

// ---- ECDSA DER -------------------------------------------------------------------------------

function derInt(v: Uint8Array): Uint8Array {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  let b: Uint8Array = v.slice(i);
  if (b.length === 0) b = new Uint8Array([0]);
  if (b[0]! & 0x80) b = concat(new Uint8Array([0]), b);
  return concat(new Uint8Array([0x02]), derLen(b.length), b);
}

function derLen(n: number): Uint8Array {
  if (n < 0x80) return new Uint8Array([n]);
  if (n < 0x100) return new Uint8Array([0x81, n]);
  return new Uint8Array([0x82, n >> 8, n & 0xff]);
}

/** TPMS_SIGNATURE_ECDSA (r, s) → DER SEQUENCE { INTEGER r, INTEGER s } (X9.62 / RFC 3279). */
export function ecdsaToDer(r: Uint8Array, s: Uint8Array): Uint8Array {
  if (r.length === 0 || s.length === 0 || r.length > 132 || s.length > 132) throw invalidArgument('ECDSA r and s must be 1..132 bytes.');
  const body = concat(derInt(r), derInt(s));
  return concat(new Uint8Array([0x30]), derLen(body.length), body);
}

function readDerLen(rd: ByteReader): number {
  const first = rd.bytes(1, 'length')[0]!;
  if (first < 0x80) return first;
  const nb = first & 0x7f;
  if (nb === 0 || nb > 2) throw malformed('ECDSA DER signature uses an unsupported length form.');
  const b = rd.bytes(nb, 'length');
  const n = nb === 1 ? b[0]! : (b[0]! << 8) | b[1]!;
  if (n < 0x80 || (nb === 2 && n < 0x100)) throw malformed('ECDSA DER signature uses a non-minimal length (not DER).');
  return n;
}

function readDerInt(rd: ByteReader): Uint8Array {
  if (rd.bytes(1, 'INTEGER tag')[0] !== 0x02) throw malformed('ECDSA DER signature: expected an INTEGER.');
  const n = readDerLen(rd);
  if (n === 0) throw malformed('ECDSA DER signature has an empty INTEGER.');
  const v = rd.bytes(n, 'INTEGER');
  if (v[0]! & 0x80) throw malformed('ECDSA DER signature has a negative INTEGER.');
  if (n > 1 && v[0] === 0 && !(v[1]! & 0x80)) throw malformed('ECDSA DER signature has a non-minimal INTEGER (not DER).');
  return v[0] === 0 && n > 1 ? v.slice(1) : v;
}

/** DER → (r, s), each left-padded to the curve size when a curve is given. Strict DER only. */
export function ecdsaFromDer(der: Uint8Array, curve?: EccCurve): { r: Uint8Array; s: Uint8Array } {
  if (der.length > 2 + 4 + 2 * (3 + 133)) throw malformed(`ECDSA DER signature of ${der.length} bytes is too long.`);
  const rd = new ByteReader(der, 'ECDSA DER signature');
  if (rd.bytes(1, 'SEQUENCE tag')[0] !== 0x30) throw malformed('ECDSA DER signature does not start with a SEQUENCE.');
  const len = readDerLen(rd);
  if (len !== rd.remaining) throw malformed('ECDSA DER signature length does not match its content.');
  let r = readDerInt(rd);
  let s = readDerInt(rd);
  rd.end();
  if (curve) {
    const c = curveParams(curve);
    try {
      r = fitUnsigned(r, c.bytes, 'r');
      s = fitUnsigned(s, c.bytes, 's');
    } catch (e) {
      throw malformed(`ECDSA signature values are larger than curve ${curve} allows.`, undefined, e);
    }
  }
  return { r, s };
}

// ---- RSA -----------------------------------------------------------------------------------

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

/** DigestInfo DER prefixes of RFC 8017 §9.2 note 1. */
const DIGEST_INFO: Record<HashAlg, string> = {
  sha1: '3021300906052b0e03021a05000414',
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

function rsaOpen(n: Uint8Array, e: number, sig: Uint8Array): { em: Uint8Array; modBits: number } | undefined {
  const mod = rsaModulus(n);
  const N = bytesToBigInt(mod);
  if (sig.length !== mod.length) return undefined;
  const s = bytesToBigInt(sig);
  if (s >= N) return undefined;
  const m = modPow(s, BigInt(rsaExponent(e)), N);
  return { em: bigIntToBytes(m, mod.length), modBits: N.toString(2).length };
}

function mgf1(alg: HashAlg, seed: Uint8Array, len: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let have = 0;
  for (let c = 0; have < len; c++) {
    const h = hash(alg, seed, new Uint8Array([c >>> 24, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff]));
    parts.push(h);
    have += h.length;
  }
  return concat(...parts).slice(0, len);
}

function pssVerify(alg: HashAlg, digest: Uint8Array, em0: Uint8Array, modBits: number): boolean {
  const hLen = digestSize(alg);
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  // em0 is k bytes; when emLen < k its leading byte must be zero.
  if (em0.length > emLen && em0[0] !== 0) return false;
  const em = em0.subarray(em0.length - emLen);
  if (emLen < hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const maskedDB = em.subarray(0, emLen - hLen - 1);
  const H = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff >> (8 * emLen - emBits);
  if ((maskedDB[0]! & ~topMask & 0xff) !== 0) return false;
  const db = mgf1(alg, H, maskedDB.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= maskedDB[i]!;
  db[0]! &= topMask;
  let i = 0;
  while (i < db.length && db[i] === 0) i++;
  if (i >= db.length || db[i] !== 0x01) return false;
  const salt = db.subarray(i + 1);
  return equalBytes(hash(alg, new Uint8Array(8), digest, salt), H);
}

function pkcs1Verify(alg: HashAlg, digest: Uint8Array, em: Uint8Array): boolean {
  const t = concat(fromHex(DIGEST_INFO[alg]), digest);
  const psLen = em.length - t.length - 3;
  if (psLen < 8) return false;
  const expected = concat(new Uint8Array([0, 1]), new Uint8Array(psLen).fill(0xff), new Uint8Array([0]), t);
  return equalBytes(expected, em);
}

// ---- verify --------------------------------------------------------------------------------

export type SignatureScheme = 'rsassa' | 'rsapss' | 'ecdsa';

export type DigestSignature =
  | { scheme: 'rsassa' | 'rsapss'; hashAlg: HashAlg; sig: Uint8Array }
  | { scheme: 'ecdsa'; hashAlg: HashAlg; r: Uint8Array; s: Uint8Array };

/**
 * Verifies a signature over `digest` (which must be hashAlg's size). Returns false for a signature
 * that does not verify; throws a typed error for arguments that cannot be meant (wrong digest size,
 * a scheme that does not fit the key). PSS accepts any salt length, as TPMs differ in it.
 */
export function verifyDigestSignature(key: PublicKeyBytes, digest: Uint8Array, sig: DigestSignature): boolean {
  if (digest.length !== digestSize(sig.hashAlg)) throw invalidArgument(`Digest is ${digest.length} bytes; ${sig.hashAlg} digests are ${digestSize(sig.hashAlg)}.`);
  if (sig.scheme === 'ecdsa') {
    if (key.type !== 'ecc') throw invalidArgument('An ECDSA signature needs an ECC key.');
    if (sig.r.length > 132 || sig.s.length > 132) return false;
    return ecdsaVerifyDigest(key.curve, key.x, key.y, digest, bytesToBigInt(sig.r), bytesToBigInt(sig.s));
  }
  if (sig.scheme !== 'rsassa' && sig.scheme !== 'rsapss') throw invalidArgument(`Unknown signature scheme ${String((sig as { scheme: unknown }).scheme)}.`);
  if (key.type !== 'rsa') throw invalidArgument(`An ${sig.scheme.toUpperCase()} signature needs an RSA key.`);
  const opened = rsaOpen(key.n, key.e, sig.sig);
  if (!opened) return false;
  return sig.scheme === 'rsassa' ? pkcs1Verify(sig.hashAlg, digest, opened.em) : pssVerify(sig.hashAlg, digest, opened.em, opened.modBits);
}

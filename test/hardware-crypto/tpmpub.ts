// Test-only: just enough TPMT_PUBLIC / TPMT_SENSITIVE parsing to turn tpm2-tools' ek.pub and the
// vector files into the plain key objects hardware/crypto takes. (The product's marshalling lives
// in hardware/; this must not depend on it.)
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { ByteReader, curveFromTpmId, hashAlgFromId, type HashAlg, type TpmPublicKey, type SymmetricDef } from '../../hardware/crypto/index.ts';

const ALG_NULL = 0x0010;

export interface ParsedPublic {
  key: TpmPublicKey;
  authPolicy: Uint8Array;
  attributes: number;
  /** The TPMT_PUBLIC bytes (what the Name is computed over). */
  tpmtPublic: Uint8Array;
}

function symmetric(rd: ByteReader): SymmetricDef | undefined {
  const alg = rd.u16('symmetric.algorithm');
  if (alg === ALG_NULL) return undefined;
  const bits = rd.u16('symmetric.keyBits');
  rd.u16('symmetric.mode');
  if (alg !== 0x0006) throw new Error(`symmetric alg ${alg} not handled`);
  return { alg: 'aes', bits: bits as 128 | 192 | 256 };
}

/** Reads a TPMT_*_SCHEME; returns the hash when the scheme is OAEP (0x0017). */
function scheme(rd: ByteReader): HashAlg | undefined {
  const s = rd.u16('scheme');
  if (s === ALG_NULL) return undefined;
  const h = hashAlgFromId(rd.u16('scheme.hashAlg'));
  return s === 0x0017 ? h : undefined;
}

export function parseTpmtPublic(tpmtPublic: Uint8Array): ParsedPublic {
  const rd = new ByteReader(tpmtPublic, 'TPMT_PUBLIC');
  const type = rd.u16('type');
  const nameAlg = hashAlgFromId(rd.u16('nameAlg'));
  if (!nameAlg) throw new Error('nameAlg');
  const attributes = rd.u32('objectAttributes');
  const authPolicy = rd.tpm2b('authPolicy', 64);
  let key: TpmPublicKey;
  if (type === 0x0001) {
    const sym = symmetric(rd);
    const oaep = scheme(rd);
    rd.u16('keyBits');
    const e = rd.u32('exponent');
    const n = rd.tpm2b('unique.rsa', 1024);
    key = { type: 'rsa', n, e, nameAlg, ...(sym ? { symmetric: sym } : {}), ...(oaep ? { oaepHashAlg: oaep } : {}) };
  } else if (type === 0x0023) {
    const sym = symmetric(rd);
    scheme(rd);
    const curve = curveFromTpmId(rd.u16('curveID'));
    if (!curve) throw new Error('curve not supported');
    scheme(rd); // kdf
    const x = rd.tpm2b('unique.x', 66);
    const y = rd.tpm2b('unique.y', 66);
    key = { type: 'ecc', curve, x, y, nameAlg, ...(sym ? { symmetric: sym } : {}) };
  } else {
    throw new Error(`type ${type} not handled`);
  }
  rd.end();
  return { key, authPolicy, attributes, tpmtPublic };
}

/** tpm2-tools writes `-u` public files as TPM2B_PUBLIC. */
export function parseTpm2bPublic(b: Uint8Array): ParsedPublic {
  const rd = new ByteReader(b, 'TPM2B_PUBLIC');
  const inner = rd.tpm2b('publicArea', 4096);
  rd.end();
  return parseTpmtPublic(inner);
}

const b64u = (b: Uint8Array | bigint, len?: number): string => {
  if (typeof b === 'bigint') {
    let h = b.toString(16);
    if (h.length % 2) h = '0' + h;
    if (len) h = h.padStart(len * 2, '0');
    return Buffer.from(h, 'hex').toString('base64url');
  }
  return Buffer.from(b).toString('base64url');
};
const big = (b: Uint8Array): bigint => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'));

function modInv(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
  while (r1 !== 0n) { const q = r0 / r1; [r0, r1] = [r1, r0 - q * r1]; [s0, s1] = [s1, s0 - q * s1]; }
  return ((s0 % m) + m) % m;
}

/** Private KeyObject from a TPMT_SENSITIVE (RSA: one prime; ECC: the scalar) and its public key. */
export function privateKeyFromSensitive(tpmtSensitive: Uint8Array, pub: TpmPublicKey): KeyObject {
  const rd = new ByteReader(tpmtSensitive, 'TPMT_SENSITIVE');
  rd.u16('sensitiveType');
  rd.tpm2b('authValue', 64);
  rd.tpm2b('seedValue', 64);
  const secret = rd.tpm2b('sensitive', 1024);
  rd.end();
  if (pub.type === 'rsa') {
    const n = big(pub.n);
    const e = BigInt(pub.e === 0 ? 65537 : pub.e);
    const p = big(secret);
    const q = n / p;
    if (p * q !== n) throw new Error('prime does not divide n');
    const d = modInv(e, (p - 1n) * (q - 1n));
    return createPrivateKey({ format: 'jwk', key: { kty: 'RSA', n: b64u(pub.n), e: b64u(e), d: b64u(d), p: b64u(p), q: b64u(q), dp: b64u(d % (p - 1n)), dq: b64u(d % (q - 1n)), qi: b64u(modInv(q, p)) } });
  }
  const len = pub.curve === 'P-256' ? 32 : 48;
  return createPrivateKey({ format: 'jwk', key: { kty: 'EC', crv: pub.curve, x: b64u(big(pub.x), len), y: b64u(big(pub.y), len), d: b64u(big(secret), len) } });
}

// TPM public keys as plain byte-level objects, and their conversion to and from Node KeyObjects
// and SPKI PEM. RSA exponent 0 means the TPM default 65537 (Part 2, TPMS_RSA_PARMS).
import { createPublicKey, type KeyObject } from 'node:crypto';
import { fitUnsigned, own } from './bytes.ts';
import { checkPoint, curveParams, type EccCurve } from './ecc.ts';
import type { HashAlg } from './hash.ts';
import { TpmCryptoError, invalidArgument, malformed } from './errors.ts';

export interface SymmetricDef {
  alg: 'aes';
  bits: 128 | 192 | 256;
}

export interface RsaPublicKey {
  type: 'rsa';
  /** Modulus, big-endian. */
  n: Uint8Array;
  /** Public exponent; 0 stands for 65537. */
  e: number;
}

export interface EccPublicKey {
  type: 'ecc';
  curve: EccCurve;
  x: Uint8Array;
  y: Uint8Array;
}

export type PublicKeyBytes = RsaPublicKey | EccPublicKey;

/**
 * A TPM key as far as secret sharing needs it: the key, its nameAlg, its symmetric (storage)
 * definition, and — only for an unrestricted RSA decryption key whose scheme is OAEP — that
 * scheme's hash, which then replaces nameAlg for OAEP and the secret size (restricted keys such
 * as EKs and SRKs have no scheme). ECC always uses nameAlg in KDFe, whatever its scheme.
 */
export type TpmPublicKey = PublicKeyBytes & { nameAlg: HashAlg; symmetric?: SymmetricDef; oaepHashAlg?: HashAlg };

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const unb64u = (s: unknown, what: string): Uint8Array => {
  if (typeof s !== 'string') throw malformed(`The key has no ${what}.`);
  return new Uint8Array(Buffer.from(s, 'base64url'));
};

export function rsaExponent(e: number): number {
  if (e === 0) return 65537;
  if (!Number.isInteger(e) || e < 3 || e > 0xffffffff || e % 2 === 0) throw invalidArgument(`RSA exponent ${e} is not an odd 32-bit value ≥ 3.`);
  return e;
}

function exponentBytes(e: number): Uint8Array {
  const out: number[] = [];
  for (let v = e; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return new Uint8Array(out);
}

/** Modulus without leading zeros; refuses moduli outside 1024..16384 bits or even ones. */
export function rsaModulus(n: Uint8Array): Uint8Array {
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  const m = n.slice(i);
  const bits = m.length === 0 ? 0 : (m.length - 1) * 8 + (32 - Math.clz32(m[0]!));
  if (bits < 1024 || bits > 16384 || (m[m.length - 1]! & 1) === 0) throw invalidArgument(`RSA modulus of ${bits} bits is not a usable key.`);
  return m;
}

export function toKeyObject(key: PublicKeyBytes): KeyObject {
  try {
    if (key.type === 'rsa') {
      return createPublicKey({ key: { kty: 'RSA', n: b64u(rsaModulus(key.n)), e: b64u(exponentBytes(rsaExponent(key.e))) }, format: 'jwk' });
    }
    if (key.type === 'ecc') {
      const p = checkPoint(key.curve, key.x, key.y);
      return createPublicKey({ key: { kty: 'EC', crv: key.curve, x: b64u(p.x), y: b64u(p.y) }, format: 'jwk' });
    }
  } catch (e) {
    if (e instanceof TpmCryptoError) throw e;
    throw invalidArgument(`The ${key.type} public key cannot be used: ${(e as Error).message}`);
  }
  throw invalidArgument(`Unknown key type ${String((key as { type: unknown }).type)}.`);
}

export function fromKeyObject(k: KeyObject): PublicKeyBytes {
  if (k.type !== 'public') throw invalidArgument('Expected a public key.');
  const jwk = k.export({ format: 'jwk' }) as Record<string, unknown>;
  if (jwk.kty === 'RSA') {
    const eb = unb64u(jwk.e, 'exponent');
    if (eb.length === 0 || eb.length > 4) throw malformed('The RSA exponent does not fit in 32 bits, which TPMs require.');
    let e = 0;
    for (const b of eb) e = e * 256 + b;
    const n = rsaModulus(unb64u(jwk.n, 'modulus'));
    return { type: 'rsa', n, e: rsaExponent(e) };
  }
  if (jwk.kty === 'EC' && (jwk.crv === 'P-256' || jwk.crv === 'P-384')) {
    const c = curveParams(jwk.crv);
    return { type: 'ecc', curve: c.name, x: fitUnsigned(unb64u(jwk.x, 'x'), c.bytes, 'x'), y: fitUnsigned(unb64u(jwk.y, 'y'), c.bytes, 'y') };
  }
  throw new TpmCryptoError('TPM_CRYPTO_UNSUPPORTED_ALG', `Key type ${String(jwk.kty)} ${jwk.crv ? String(jwk.crv) : ''} is not supported; use RSA, P-256 or P-384.`);
}

/** SPKI PEM ("-----BEGIN PUBLIC KEY-----"). */
export function toPem(key: PublicKeyBytes): string {
  return toKeyObject(key).export({ type: 'spki', format: 'pem' }) as string;
}

const MAX_PEM = 64 * 1024;

export function fromPem(pem: string | Uint8Array): PublicKeyBytes {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('latin1');
  if (text.length > MAX_PEM) throw malformed(`The PEM input is ${text.length} bytes; public keys are far smaller (limit ${MAX_PEM}).`);
  if (!text.includes('-----BEGIN PUBLIC KEY-----')) throw malformed('Expected an SPKI PEM public key ("-----BEGIN PUBLIC KEY-----").');
  let k: KeyObject;
  try {
    k = createPublicKey({ key: text, format: 'pem' });
  } catch (e) {
    throw malformed(`The PEM public key does not parse: ${(e as Error).message}`, undefined, e);
  }
  return fromKeyObject(k);
}

/** Copy of a key with byte fields detached from the caller's buffers. */
export function cloneKey<T extends PublicKeyBytes>(k: T): T {
  return (k.type === 'rsa' ? { ...k, n: own(k.n) } : { ...k, x: own(k.x), y: own(k.y) }) as T;
}

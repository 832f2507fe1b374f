// Hash algorithms by TPM name (TPM_ALG_ID values from the TCG Algorithm Registry), with digest
// sizes and one-call hash / HMAC over byte fragments.
import { createHash, createHmac } from 'node:crypto';
import { TpmCryptoError } from './errors.ts';

export type HashAlg = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export const HASH_ALG_ID: Readonly<Record<HashAlg, number>> = { sha1: 0x0004, sha256: 0x000b, sha384: 0x000c, sha512: 0x000d };
const SIZE: Readonly<Record<HashAlg, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

export function isHashAlg(v: unknown): v is HashAlg {
  return v === 'sha1' || v === 'sha256' || v === 'sha384' || v === 'sha512';
}

function check(alg: HashAlg): HashAlg {
  if (!isHashAlg(alg)) throw new TpmCryptoError('TPM_CRYPTO_UNSUPPORTED_ALG', `Hash algorithm ${String(alg)} is not supported; use sha1, sha256, sha384 or sha512.`);
  return alg;
}

export function digestSize(alg: HashAlg): number {
  return SIZE[check(alg)];
}

export function hashAlgId(alg: HashAlg): number {
  return HASH_ALG_ID[check(alg)];
}

/** TPM_ALG_ID → name; undefined for an id we do not implement (callers decide how to report). */
export function hashAlgFromId(id: number): HashAlg | undefined {
  for (const [k, v] of Object.entries(HASH_ALG_ID)) if (v === id) return k as HashAlg;
  return undefined;
}

export function hash(alg: HashAlg, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash(check(alg));
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function hmac(alg: HashAlg, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac(check(alg), key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

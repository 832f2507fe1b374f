// Key derivation functions of TPM 2.0 Library Part 1 §11.4.10.
//  KDFa: SP800-108 counter mode with HMAC:  K(i) = HMAC(key, [i]32 ‖ Label ‖ 00 ‖ ContextU ‖ ContextV ‖ [bits]32)
//  KDFe: SP800-56A concatenation KDF:       K(i) = H([i]32 ‖ Z ‖ Use ‖ 00 ‖ PartyUInfo ‖ PartyVInfo)
// Labels are C strings in the reference code: the terminating NUL is part of the hashed data, and
// a label that already ends in NUL is not given a second one.
import { concat, u32 } from './bytes.ts';
import { digestSize, hash, hmac, type HashAlg } from './hash.ts';
import { invalidArgument } from './errors.ts';

const MAX_KDF_BITS = 1 << 20; // far above any TPM use; stops a caller from asking for gigabytes

function labelBytes(label: string | Uint8Array): Uint8Array {
  const b = typeof label === 'string' ? new TextEncoder().encode(label) : label;
  if (b.length > 0 && b[b.length - 1] === 0) return b;
  return concat(b, new Uint8Array([0]));
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 0 || bits > MAX_KDF_BITS) throw invalidArgument(`KDF output size ${bits} bits is out of range (0..${MAX_KDF_BITS}).`);
}

/** Keeps only `bits` bits: truncates to whole bytes and masks the unused high bits of the first one. */
function truncate(out: Uint8Array, bits: number): Uint8Array {
  const bytes = Math.ceil(bits / 8);
  const r = out.slice(0, bytes);
  if (bits % 8) r[0]! &= (1 << (bits % 8)) - 1;
  return r;
}

export function KDFa(hashAlg: HashAlg, key: Uint8Array, label: string | Uint8Array, contextU: Uint8Array, contextV: Uint8Array, bits: number): Uint8Array {
  checkBits(bits);
  const l = labelBytes(label);
  const tail = concat(l, contextU, contextV, u32(bits));
  const n = Math.ceil(bits / 8 / digestSize(hashAlg));
  const blocks: Uint8Array[] = [];
  for (let i = 1; i <= n; i++) blocks.push(hmac(hashAlg, key, u32(i), tail));
  return truncate(concat(...blocks), bits);
}

export function KDFe(hashAlg: HashAlg, Z: Uint8Array, label: string | Uint8Array, partyUInfo: Uint8Array, partyVInfo: Uint8Array, bits: number): Uint8Array {
  checkBits(bits);
  const l = labelBytes(label);
  const n = Math.ceil(bits / 8 / digestSize(hashAlg));
  const blocks: Uint8Array[] = [];
  for (let i = 1; i <= n; i++) blocks.push(hash(hashAlg, u32(i), Z, l, partyUInfo, partyVInfo));
  return truncate(concat(...blocks), bits);
}

// The hash algorithms a log can name (TPM_ALG ids) and the two operations replay needs: H(data)
// and the PCR extend new = H(old || digest).
import { hash as nodeHash, getHashes } from 'node:crypto';
import { TPM_ALG, HASH_INFO } from '../constants.ts';

const AVAILABLE = new Set(getHashes());

/** Node's name for a TPM hash algorithm we can compute, or undefined. */
export function hashName(alg: number): string | undefined {
  const h = HASH_INFO[alg];
  return h && AVAILABLE.has(h.name) ? h.name : undefined;
}

/** The digest size of a TPM hash algorithm we know, computable or not. */
export function knownDigestSize(alg: number): number | undefined {
  return HASH_INFO[alg]?.size;
}

/** Short lower-case bank name: sha1, sha256, …, or 0x00NN. */
export function bankLabel(alg: number): string {
  return HASH_INFO[alg]?.name.replace('-', '') ?? `0x${alg.toString(16).padStart(4, '0')}`;
}

export function digest(alg: number, data: Uint8Array): Buffer {
  return nodeHash(hashName(alg)!, data, 'buffer');
}

const scratch = new Map<number, Buffer>();

/** PCR extend: H(pcr || value). `value` must be the bank's digest size. */
export function extend(alg: number, pcr: Uint8Array, value: Uint8Array): Buffer {
  const n = pcr.length;
  let s = scratch.get(n);
  if (!s) scratch.set(n, s = Buffer.alloc(2 * n));
  s.set(pcr, 0);
  s.set(value, n);
  return nodeHash(hashName(alg)!, s, 'buffer');
}

/** Initial value of a PCR after TPM2_Startup(CLEAR): PCRs 17–22 are all ones (reset only by a
 * dynamic launch), the rest zero; `locality` (StartupLocality) sets PCR 0's last byte. */
export function initialPCR(alg: number, pcr: number, locality = 0): Buffer {
  const size = knownDigestSize(alg)!;
  const b = Buffer.alloc(size, pcr >= 17 && pcr <= 22 ? 0xff : 0);
  if (pcr === 0 && locality) b[size - 1] = locality;
  return b;
}


// Artifact digests: one streaming pass over the file computes every algorithm any piece of
// evidence offers (sha256 always; sha384/sha512 only when asked), so a 1 GiB artifact is read once
// and no algorithm is hashed that nobody will compare.
import { createHash, type Hash } from 'node:crypto';
import { openRegularFile, type InputFileOptions } from '../hardware/index.ts';
import { AttestError } from './errors.ts';

export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512';
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha384', 'sha512'];
const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** Lower-case hex digests by algorithm. */
export type DigestSet = Partial<Record<DigestAlgorithm, string>>;

export function isDigestAlgorithm(s: string): s is DigestAlgorithm {
  return s === 'sha256' || s === 'sha384' || s === 'sha512';
}

export function isHexDigest(alg: DigestAlgorithm, hex: string): boolean {
  return hex.length === HEX_LENGTH[alg] && /^[0-9a-fA-F]+$/.test(hex);
}

/**
 * `sha256:HEX` (or sha384/sha512) → {alg, hex}; undefined when the string is not such a reference.
 * Used for digest-only verification in place of a file.
 */
export function parseDigestRef(s: string): { alg: DigestAlgorithm; hex: string } | undefined {
  const m = /^(sha256|sha384|sha512):([0-9a-fA-F]+)$/.exec(s);
  if (!m) return undefined;
  const alg = m[1] as DigestAlgorithm;
  if (!isHexDigest(alg, m[2]!)) return undefined;
  return { alg, hex: m[2]!.toLowerCase() };
}

export interface HashResult {
  digests: DigestSet;
  size: number;
  /** The file's bytes, kept only when the caller asked and the file is at most keepBytesUpTo long. */
  bytes?: Buffer;
}

const CHUNK = 4 * 1024 * 1024;

/**
 * Hashes a file in one pass with every requested algorithm (sha256 is always included). Reads are
 * double-buffered so the next read runs on the thread pool while this chunk is hashed.
 */
export async function hashFile(path: string, algorithms: Iterable<DigestAlgorithm> = [], options: { keepBytesUpTo?: number } = {}): Promise<HashResult> {
  const algs = new Set<DigestAlgorithm>(['sha256', ...algorithms]);
  const hashes: Array<[DigestAlgorithm, Hash]> = [...algs].map((a) => [a, createHash(a)]);
  // A FIFO or device named as the artifact is refused without blocking (hardware/files.ts).
  const { handle: fh, size } = await openRegularFile(path, ARTIFACT_FILE);
  try {
    const keep = options.keepBytesUpTo !== undefined && size <= options.keepBytesUpTo;
    if (keep) {
      // Small artifact: one read, kept for signature checks that need the bytes themselves.
      const bytes = Buffer.allocUnsafe(size);
      let off = 0;
      while (off < size) {
        const { bytesRead } = await fh.read(bytes, off, size - off, off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      const data = bytes.subarray(0, off);
      for (const [, h] of hashes) h.update(data);
      return { digests: finish(hashes), size: off, bytes: data };
    }
    const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let total = 0;
    let which = 0;
    let pending = fh.read(bufs[0]!, 0, CHUNK, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const cur = bufs[which]!;
      which ^= 1;
      pending = fh.read(bufs[which]!, 0, CHUNK, null);
      const data = bytesRead === CHUNK ? cur : cur.subarray(0, bytesRead);
      for (const [, h] of hashes) h.update(data);
      total += bytesRead;
    }
    return { digests: finish(hashes), size: total };
  } catch (e) {
    if (e instanceof AttestError) throw e;
    throw artifactError(path, e);
  } finally {
    await fh.close();
  }
}

/** Hashes bytes already in memory with every requested algorithm. */
export function hashBytes(bytes: Uint8Array, algorithms: Iterable<DigestAlgorithm> = []): DigestSet {
  const algs = new Set<DigestAlgorithm>(['sha256', ...algorithms]);
  const out: DigestSet = {};
  for (const a of algs) out[a] = createHash(a).update(bytes).digest('hex');
  return out;
}

function finish(hashes: Array<[DigestAlgorithm, Hash]>): DigestSet {
  const out: DigestSet = {};
  for (const [a, h] of hashes) out[a] = h.digest('hex');
  return out;
}

const ARTIFACT_FILE: InputFileOptions = {
  what: 'the artifact',
  codes: { 'not-found': 'ARTIFACT_NOT_FOUND', 'not-regular': 'ARTIFACT_NOT_A_FILE', unreadable: 'ARTIFACT_UNREADABLE' },
};

function artifactError(path: string, e: unknown): AttestError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new AttestError('ARTIFACT_NOT_FOUND', `The artifact ${path} does not exist.`, 'usage', { cause: e });
  return new AttestError('ARTIFACT_UNREADABLE', `The artifact ${path} could not be read (${code ?? (e as Error)?.message}).`, 'environment', { cause: e });
}

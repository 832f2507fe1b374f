// File helpers for the build: hashing and the write-temp → fsync → rename → fsync-dir rule.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync, createReadStream } from 'node:fs';
import { dirname } from 'node:path';

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** Moves a finished temp file into place durably. */
export function commitFile(tmp: string, dest: string): void {
  fsyncPath(tmp);
  renameSync(tmp, dest);
  fsyncPath(dirname(dest));
}

export function writeFileAtomic(dest: string, data: string | Uint8Array, mode?: number): void {
  const tmp = `${dest}.tmp-${process.pid}`;
  writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
  commitFile(tmp, dest);
}

export function readJson<T>(path: string): T | undefined {
  try { return JSON.parse(readFileSync(path, 'utf8')) as T; } catch { return undefined; }
}

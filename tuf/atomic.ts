// The only way tuf/ writes state: write a temp file in the same directory, fsync it, rename it
// over the target, fsync the directory. A crash leaves either the old or the new file, never a
// torn one. crashPoint() lets the crash-safety test kill the process between those steps
// (TOLLGATE_CRASH_AT=N: SIGKILL self at the N-th point reached; unset in production = no-op).
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';

let crashCountdown = (() => {
  const v = process.env.TOLLGATE_CRASH_AT;
  const n = v === undefined ? NaN : Number(v);
  return Number.isInteger(n) && n > 0 ? n : 0;
})();

/** Fault injection for the crash-safety test: SIGKILL self at the configured point. */
export function crashPoint(_name: string): void {
  if (crashCountdown === 0) return;
  if (--crashCountdown === 0) process.kill(process.pid, 'SIGKILL');
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Atomically replace `path` with `data` (durable once this returns). */
export function writeFileAtomic(path: string, data: Uint8Array | string, opts: { syncDir?: boolean; mode?: number } = {}): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = tempNameFor(path);
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(tmp, 'wx', opts.mode ?? 0o644);
  try {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    crashPoint('atomic:written');
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  crashPoint('atomic:synced');
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  crashPoint('atomic:renamed');
  if (opts.syncDir !== false) fsyncDir(dir);
}

/**
 * Atomically replaces several files in one directory: every temp file is written and fsynced
 * (concurrently, so the filesystem can group the journal commits), then each is renamed over its
 * target in the given order, then the directory is fsynced once. Each file is old or new after a
 * crash, never torn.
 */
export async function writeFilesAtomic(dir: string, files: Array<[name: string, data: Uint8Array]>): Promise<void> {
  if (files.length === 0) return;
  mkdirSync(dir, { recursive: true });
  const temps: string[] = [];
  try {
    await Promise.all(files.map(async ([name, data]) => {
      const tmp = tempNameFor(join(dir, name));
      temps.push(tmp);
      const fh = await open(tmp, 'wx', 0o644);
      try {
        let off = 0;
        while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
        await fh.sync();
      } finally {
        await fh.close();
      }
    }));
  } catch (e) {
    for (const t of temps) rmSync(t, { force: true });
    throw e;
  }
  crashPoint('atomic:batch-synced');
  files.forEach(([name], i) => {
    renameSync(temps[i]!, join(dir, name));
    crashPoint('atomic:batch-renamed');
  });
  fsyncDir(dir);
}

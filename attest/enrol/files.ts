// File I/O of enrolment: bounded reads of the documents a user names (the request, challenge and
// proof come from devices), and durable writes of the verifier's state.
//
// Reading: regular files only, never more than a cap, never blocking — stat first (a device is
// never opened), open O_NONBLOCK (a FIFO swapped in after the stat cannot block), fstat the open
// file, then read at most cap+1 bytes whatever size was claimed. The error codes are those of the
// shared bounded reader being added on main as hardware/files.ts (readBoundedFile), which this
// stands in for until that is merged; then this half should import it instead.
// Writing: temp file (mode 0600) in the same directory, fsync, rename, fsync the directory. attest/
// cannot import tuf/'s writeFileAtomic (dependencies go agent → attest, tuf → hardware).
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { TollgateError, type ErrorClass } from '../../hardware/index.ts';

export class InputFileError extends TollgateError {
  constructor(code: 'INPUT_NOT_FOUND' | 'INPUT_NOT_REGULAR' | 'INPUT_TOO_LARGE' | 'INPUT_UNREADABLE', message: string, errorClass: ErrorClass, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, errorClass, options);
    this.name = 'InputFileError';
  }
}

export interface ReadOptions {
  /** How the file is named in messages, e.g. "The enrolment request". */
  what?: string;
  /** Error class of an oversized file (default 'denied': these documents come from devices). */
  tooLargeClass?: ErrorClass;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

function kind(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file';
}

/** Reads a whole user-named regular file of at most `cap` bytes. */
export async function readBoundedFile(path: string, cap: number, o: ReadOptions = {}): Promise<Buffer> {
  const what = `${o.what ?? 'The file'} ${path}`;
  const tooLarge = () => new InputFileError('INPUT_TOO_LARGE', `${what} is larger than the ${cap}-byte limit for it; refusing to read it.`, o.tooLargeClass ?? 'denied', { details: { path, cap } });
  const notRegular = (st: Parameters<typeof kind>[0]) => new InputFileError('INPUT_NOT_REGULAR', `${what} is ${kind(st)}, not a regular file; give the path of a file.`, 'usage', { details: { path } });
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const pre = await stat(path);
    if (!pre.isFile()) throw notRegular(pre);
    handle = await open(path, OPEN_FLAGS);
    const st = await handle.stat();
    if (!st.isFile()) throw notRegular(st);
    if (st.size > cap) throw tooLarge();
    const buf = Buffer.allocUnsafe(cap + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > cap) throw tooLarge();
    }
    return Buffer.from(buf.subarray(0, n));
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputFileError('INPUT_NOT_FOUND', `${what} does not exist (${code}); check the path.`, 'usage', { cause: e, details: { path } });
    throw new InputFileError('INPUT_UNREADABLE', `${what} could not be read (${code ?? (e as Error).message}).`, 'environment', { cause: e, details: { path } });
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Atomically replaces `path` with `data` (durable when this returns); the file gets `mode` (default 0600). */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o600): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(tmp, 'wx', mode);
  try {
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw e;
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

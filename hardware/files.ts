// Reading a file a user named (a CLI option or argument, a path in a config): regular files only,
// and never more than a cap. A size check by stat() alone lets /dev/zero (size 0, endless) and a
// FIFO (open blocks until a writer comes) through, so: stat first, so that a device is never even
// opened (opening some has side effects, a watchdog for one); open with O_NONBLOCK, so that a FIFO
// swapped in after the stat cannot block; fstat the open file and refuse anything but a regular
// file; then read at most cap+1 bytes, whatever the size claimed (/proc files say 0).
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { TollgateError, type ErrorClass } from './errors.ts';

export type InputFileProblem = 'not-found' | 'not-regular' | 'too-large' | 'unreadable';

const DEFAULT_CODES: Record<InputFileProblem, string> = {
  'not-found': 'INPUT_NOT_FOUND',
  'not-regular': 'INPUT_NOT_REGULAR',
  'too-large': 'INPUT_TOO_LARGE',
  unreadable: 'INPUT_UNREADABLE',
};

export interface InputFileOptions {
  /** How the file is named in messages, e.g. "--sbom" or "the root file"; the path follows. */
  what?: string;
  /** Error class of an oversized file: 'usage' (default) for the operator's own files, 'denied' for evidence. */
  tooLargeClass?: ErrorClass;
  /** Caller-specific codes for some problems (the defaults are INPUT_NOT_FOUND, …). */
  codes?: Partial<Record<InputFileProblem, string>>;
}

/**
 * A user-named file that is missing (usage), not a regular file (usage), over its cap (usage, or
 * denied for evidence) or unreadable (environment). `problem` says which, whatever the code.
 */
export class InputFileError extends TollgateError {
  readonly problem: InputFileProblem;
  constructor(problem: InputFileProblem, code: string, message: string, errorClass: ErrorClass, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, errorClass, options);
    this.name = 'InputFileError';
    this.problem = problem;
  }
}

// O_NOCTTY: a terminal device never becomes our controlling terminal before fstat refuses it.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** "64 MiB (67108864 bytes)": the cap as people read it, and exactly. */
export function formatCap(bytes: number): string {
  const units: Array<[number, string]> = [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB'], [1024, 'KiB']];
  for (const [n, u] of units) if (bytes >= n && bytes % n === 0) return `${bytes / n} ${u} (${bytes} bytes)`;
  return `${bytes} bytes`;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function label(path: string, o: InputFileOptions): string {
  return o.what ? `${o.what} ${path}` : path;
}

function fail(problem: InputFileProblem, path: string, o: InputFileOptions, message: string, errorClass: ErrorClass, extra: { cause?: unknown; details?: Record<string, unknown> } = {}): InputFileError {
  return new InputFileError(problem, o.codes?.[problem] ?? DEFAULT_CODES[problem], message, errorClass, { ...extra, details: { path, ...extra.details } });
}

function notRegular(path: string, st: Stats, o: InputFileOptions): InputFileError {
  return fail('not-regular', path, o, `${label(path, o)} is ${kindOf(st)}, not a regular file; give the path of a file.`, 'usage');
}

function tooLarge(path: string, cap: number, o: InputFileOptions, size?: number): InputFileError {
  const is = size !== undefined ? `is ${size} bytes, more than` : 'is larger than';
  return fail('too-large', path, o, `${label(path, o)} ${is} the ${formatCap(cap)} limit for it; refusing to read it.`, o.tooLargeClass ?? 'usage', { details: { cap, ...(size !== undefined ? { size } : {}) } });
}

function systemError(path: string, e: unknown, o: InputFileOptions): InputFileError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return fail('not-found', path, o, `${label(path, o)} does not exist (${code}); check the path.`, 'usage', { cause: e });
  }
  return fail('unreadable', path, o, `${label(path, o)} could not be read (${code ?? (e as Error)?.message}).`, 'environment', { cause: e });
}

/**
 * The read buffer with room for more: the size fstat claimed plus one byte (to see the end), grown
 * only for files that say less than they hold (/proc), never past cap+1.
 */
function room(buf: Buffer, n: number, cap: number, overCap: () => InputFileError): Buffer {
  if (n < buf.length) return buf;
  if (n > cap) throw overCap();
  const bigger = Buffer.allocUnsafe(Math.min(cap + 1, Math.max(64 * 1024, buf.length * 2)));
  buf.copy(bigger, 0, 0, n);
  return bigger;
}

/**
 * Opens a user-named file for reading, refusing anything but a regular file without ever blocking.
 * The caller closes the handle. Errors are InputFileErrors.
 */
export async function openRegularFile(path: string, o: InputFileOptions = {}): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle | undefined;
  try {
    const pre = await stat(path);
    if (!pre.isFile()) throw notRegular(path, pre, o);
    handle = await open(path, OPEN_FLAGS);
    const st = await handle.stat();
    if (!st.isFile()) throw notRegular(path, st, o);
    return { handle, size: st.size };
  } catch (e) {
    await handle?.close().catch(() => {});
    if (e instanceof InputFileError) throw e;
    throw systemError(path, e, o);
  }
}

/** Reads a whole user-named regular file of at most `cap` bytes (see the top of this file). */
export async function readBoundedFile(path: string, cap: number, o: InputFileOptions = {}): Promise<Buffer> {
  const { handle, size } = await openRegularFile(path, o);
  try {
    if (size > cap) throw tooLarge(path, cap, o, size);
    let buf: Buffer = Buffer.allocUnsafe(Math.min(cap, size) + 1);
    let n = 0;
    for (;;) {
      buf = room(buf, n, cap, () => tooLarge(path, cap, o));
      const { bytesRead } = await handle.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > cap) throw tooLarge(path, cap, o);
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    throw systemError(path, e, o);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** openRegularFile for synchronous callers: the fd (the caller closes it) and the size fstat gave. */
export function openRegularFileSync(path: string, o: InputFileOptions = {}): { fd: number; size: number } {
  let fd: number | undefined;
  try {
    const pre = statSync(path);
    if (!pre.isFile()) throw notRegular(path, pre, o);
    fd = openSync(path, OPEN_FLAGS);
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegular(path, st, o);
    return { fd, size: st.size };
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    if (e instanceof InputFileError) throw e;
    throw systemError(path, e, o);
  }
}

/** readBoundedFile for synchronous callers. */
export function readBoundedFileSync(path: string, cap: number, o: InputFileOptions = {}): Buffer {
  const { fd, size } = openRegularFileSync(path, o);
  try {
    if (size > cap) throw tooLarge(path, cap, o, size);
    let buf: Buffer = Buffer.allocUnsafe(Math.min(cap, size) + 1);
    let n = 0;
    for (;;) {
      buf = room(buf, n, cap, () => tooLarge(path, cap, o));
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
    }
    if (n > cap) throw tooLarge(path, cap, o);
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    throw systemError(path, e, o);
  } finally {
    closeSync(fd);
  }
}

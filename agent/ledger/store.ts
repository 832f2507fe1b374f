// The ledger file on disk: <state>/ledger/ledger.jsonl, one record per line.
//
// Why an append-only file and not the write-temp/rename every other piece of state uses: a ledger
// only ever grows, and rewriting it per record costs O(size) per decision. An append is one
// write(2) of the whole line (O_APPEND) followed by fdatasync(2), so after a crash the file is
// every synced record plus at most one torn line at the end, which was never synced and so never
// extended into the TPM (the extend comes only after the sync): recovery drops it (ftruncate + fsync,
// one atomic size change) and records that it did. The directory is fsynced when the file is
// created, so the file itself survives a power cut.
//
// Reading is hostile-input safe: the path must be a regular file (lstat: no symlink, FIFO, device or
// directory; opened O_NOFOLLOW | O_NONBLOCK, so a FIFO swapped in between cannot block us, and
// fstat checked again), it is read in 64 KiB chunks only up to the size it had when opened, and a
// line longer than MAX_RECORD_BYTES stops the scan: memory stays bounded whatever the file holds.
import { closeSync, constants, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LedgerError, ioError } from './errors.ts';
import { MAX_RECORD_BYTES } from './record.ts';
import { crashPoint } from './crash.ts';

export const LEDGER_DIR = 'ledger';
export const LEDGER_FILE = 'ledger.jsonl';
const CHUNK = 64 * 1024;

export type ScanItem =
  /** A complete line, without its '\n'. */
  | { kind: 'line'; offset: number; bytes: Buffer }
  /** Bytes after the last '\n' (at most MAX_RECORD_BYTES): a torn append, or junk. */
  | { kind: 'tail'; offset: number; bytes: Buffer }
  /** A line longer than any record: not something tollgate wrote. Scanning stops here. */
  | { kind: 'oversize'; offset: number };

function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

export class LedgerFile {
  readonly dir: string;
  readonly path: string;

  /** `dir` is the ledger directory (<state>/ledger). */
  constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, LEDGER_FILE);
  }

  static inState(stateRoot: string): LedgerFile {
    return new LedgerFile(join(stateRoot, LEDGER_DIR));
  }

  private invalid(what: string): LedgerError {
    return new LedgerError('LEDGER_FILE_INVALID', `${this.path} is ${what}, not a ledger file. Move it away and find out who put it there: tollgate only ever creates a regular file.`, { details: { path: this.path } });
  }

  /** Whether the ledger file exists; LEDGER_FILE_INVALID when the path is anything but a regular file. */
  exists(): boolean {
    let st;
    try {
      st = lstatSync(this.path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      if (code === 'ENOTDIR') throw this.invalid('below something that is not a directory');
      throw ioError('inspect', this.path, e);
    }
    if (st.isSymbolicLink()) throw this.invalid('a symbolic link');
    if (!st.isFile()) throw this.invalid(st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'a special file');
    return true;
  }

  private openChecked(flags: number): number {
    let fd: number;
    try {
      fd = openSync(this.path, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw this.invalid('a symbolic link');
      if (code === 'ENXIO') throw this.invalid('a FIFO');
      throw ioError('open', this.path, e);
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw this.invalid(st.isFIFO() ? 'a FIFO' : 'not a regular file');
    }
    return fd;
  }

  /** Every line of the file as it is now, then its tail (see ScanItem). */
  *scan(): Generator<ScanItem> {
    const fd = this.openChecked(constants.O_RDONLY);
    try {
      const size = fstatSync(fd).size;
      let pos = 0;
      let lineStart = 0;
      let parts: Buffer[] = [];
      let partLen = 0;
      while (pos < size) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, pos);
        } catch (e) {
          throw ioError('read', this.path, e);
        }
        if (n === 0) break; // the file shrank under us: what we have is all there is
        let at = 0;
        while (at < n) {
          const nl = buf.indexOf(10, at);
          const end = nl === -1 || nl >= n ? n : nl;
          if (partLen + (end - at) > MAX_RECORD_BYTES) {
            yield { kind: 'oversize', offset: lineStart };
            return;
          }
          if (end === n) {
            parts.push(buf.subarray(at, n));
            partLen += n - at;
            at = n;
            break;
          }
          const piece = buf.subarray(at, end);
          const bytes = partLen === 0 ? piece : Buffer.concat([...parts, piece], partLen + piece.length);
          yield { kind: 'line', offset: lineStart, bytes };
          parts = [];
          partLen = 0;
          at = end + 1;
          lineStart = pos + at;
        }
        pos += n;
      }
      if (partLen > 0) yield { kind: 'tail', offset: lineStart, bytes: Buffer.concat(parts, partLen) };
    } finally {
      closeSync(fd);
    }
  }

  /** Creates the ledger directory (0700) if needed, making its entry durable. */
  private ensureDir(): void {
    try {
      const st = lstatSync(this.dir);
      if (st.isSymbolicLink() || !st.isDirectory()) throw new LedgerError('LEDGER_FILE_INVALID', `${this.dir} is not a directory; tollgate keeps its ledger there. Move it away and retry.`, { details: { path: this.dir } });
      return;
    } catch (e) {
      if (e instanceof LedgerError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('inspect', this.dir, e);
    }
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      fsyncDir(dirname(this.dir));
    } catch (e) {
      throw ioError('create the ledger directory', this.dir, e);
    }
  }

  /**
   * Opens the file for appending, creating it (empty, mode 0600, directory entry synced) when it
   * does not exist. Returns the descriptor appends go through.
   */
  openAppend(): number {
    this.ensureDir();
    if (this.exists()) return this.openChecked(constants.O_WRONLY | constants.O_APPEND);
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      crashPoint('ledger:created');
      fsyncDir(this.dir);
    } catch (e) {
      throw ioError('create', this.path, e);
    }
    return fd;
  }

  /** Appends one whole line (one write, retried only for a short write) and makes it durable. */
  append(fd: number, line: Buffer): void {
    try {
      let off = writeSync(fd, line, 0, line.length);
      // A short write leaves a torn line; finishing it keeps the line whole (O_APPEND: it lands right after).
      while (off < line.length) off += writeSync(fd, line, off, line.length - off);
      crashPoint('ledger:written');
      fdatasyncSync(fd);
    } catch (e) {
      throw ioError('append to', this.path, e);
    }
  }

  /** Makes everything appended through `fd` durable. */
  sync(fd: number): void {
    try {
      fdatasyncSync(fd);
    } catch (e) {
      throw ioError('sync', this.path, e);
    }
  }

  /** Cuts the file to `size` bytes and makes that durable (dropping a torn tail). */
  truncate(size: number): void {
    const fd = this.openChecked(constants.O_WRONLY);
    try {
      ftruncateSync(fd, size);
      crashPoint('ledger:truncated');
      fsyncSync(fd);
    } catch (e) {
      throw ioError('repair', this.path, e);
    } finally {
      closeSync(fd);
    }
  }

  close(fd: number): void {
    try { closeSync(fd); } catch { /* already closed */ }
  }
}

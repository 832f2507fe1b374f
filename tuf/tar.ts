// Minimal POSIX tar (ustar, plus pax `path` records for names longer than ustar allows, such as
// hash-prefixed target names) for offline bundles: our own writer, and a strict reader for hostile
// input. Only regular files (and directory entries, which are ignored) are accepted; links,
// devices, GNU extensions, global pax headers, pax size/linkpath overrides, base-256 sizes,
// absolute or `..` names, duplicate names, bad checksums and truncation are all refused with
// TUF_BUNDLE_INVALID. The reader indexes
// headers with positional reads and streams entry data, so a bundle never has to fit in memory.
import { closeSync, createReadStream, fstatSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { open as openAsync } from 'node:fs/promises';
import { openRegularFileSync } from '../hardware/index.ts';
import { TufError } from './errors.ts';
import { crashPoint, fsyncDir, tempNameFor } from './atomic.ts';
import { rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createHash } from 'node:crypto';

const BLOCK = 512;
const MAX_ENTRIES = 2_000_000;
const MAX_SIZE = 0o77777777777; // 11 octal digits: 8 GiB - 1

function invalid(msg: string, details?: Record<string, unknown>): TufError {
  return new TufError('TUF_BUNDLE_INVALID', `Bundle rejected: ${msg}.`, 'denied', details ? { details } : undefined);
}

/** An entry name we are willing to store or serve: relative, `/`-separated, no `.`/`..` parts. */
export function checkEntryName(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  if (n.length === 0 || n.length > 4096) throw invalid(`entry name of length ${name.length}`);
  if (n.startsWith('/')) throw invalid(`absolute entry name ${JSON.stringify(name)}`);
  if (/[\\\0]/.test(n) || /[\u0000-\u001f]/.test(n)) throw invalid(`entry name with control or backslash characters ${JSON.stringify(name)}`);
  const parts = n.split('/');
  if (parts.some((p, i) => p === '..' || p === '.' || (p === '' && i !== parts.length - 1))) {
    throw invalid(`entry name escaping the bundle ${JSON.stringify(name)}`);
  }
  return n;
}

// ---- writer ---------------------------------------------------------------------------------

function putString(h: Buffer, off: number, len: number, s: string): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > len) throw new RangeError('field overflow');
  b.copy(h, off);
}

function putOctal(h: Buffer, off: number, len: number, v: number): void {
  putString(h, off, len, v.toString(8).padStart(len - 1, '0') + '\0');
}

function splitName(name: string): { prefix: string; base: string } | undefined {
  const bytes = Buffer.byteLength(name);
  if (bytes <= 100) return { prefix: '', base: name };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100 && base.length > 0) return { prefix, base };
  }
  return undefined;
}

/** One pax record: "<len> <key>=<value>\n", where len counts the whole record. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return Buffer.from(`${len}${body}`, 'utf8');
}

const MAX_PAX = 64 * 1024;

/** Header block(s) for one entry: ustar alone, or a pax `path` header first when the name is long. */
export function entryHeaders(name: string, size: number): Buffer {
  if (splitName(name)) return ustarHeader(name, size);
  const rec = paxRecord('path', name);
  const pad = Buffer.alloc((BLOCK - (rec.length % BLOCK)) % BLOCK);
  const short = 'PaxHeaders/' + createHash('sha256').update(name).digest('hex').slice(0, 32);
  return Buffer.concat([ustarHeader(short, rec.length, 'x'), rec, pad, ustarHeader(short.replace('PaxHeaders/', 'long/'), size)]);
}

export function ustarHeader(name: string, size: number, type: '0' | '5' | 'x' = '0'): Buffer {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_SIZE) throw new RangeError(`size ${size} not representable`);
  const split = splitName(name);
  if (!split) throw new TufError('TUF_USAGE', `Path ${name} does not fit a ustar header.`, 'usage');
  const { prefix, base } = split;
  const h = Buffer.alloc(BLOCK);
  putString(h, 0, 100, base);
  putOctal(h, 100, 8, type === '5' ? 0o755 : 0o644);
  putOctal(h, 108, 8, 0);
  putOctal(h, 116, 8, 0);
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, 0); // mtime 0: bundles are reproducible
  h.fill(0x20, 148, 156);
  h[156] = type.charCodeAt(0);
  putString(h, 257, 6, 'ustar\0');
  putString(h, 263, 2, '00');
  putString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  putString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

export interface TarInput { name: string; path?: string; data?: Uint8Array; size: number }

/** Writes entries to `out` atomically (temp, fsync, rename, fsync dir). File data is streamed. */
export async function writeTar(out: string, entries: Iterable<TarInput>): Promise<{ entries: number; bytes: number }> {
  const tmp = tempNameFor(out);
  const fh = await openAsync(tmp, 'wx', 0o644);
  let count = 0;
  let pos = 0;
  const seen = new Set<string>();
  try {
    const write = async (b: Uint8Array) => { let o = 0; while (o < b.length) { const r = await fh.write(b, o, b.length - o, pos); o += r.bytesWritten; pos += r.bytesWritten; } };
    for (const e of entries) {
      const name = checkEntryName(e.name);
      if (seen.has(name)) throw new TufError('TUF_USAGE', `Duplicate bundle entry ${name}.`, 'usage');
      seen.add(name);
      await write(entryHeaders(name, e.size));
      let written = 0;
      if (e.data) {
        await write(e.data);
        written = e.data.length;
      } else if (e.path) {
        const src = await openAsync(e.path, 'r');
        try {
          const buf = Buffer.allocUnsafe(1024 * 1024);
          for (;;) {
            const { bytesRead } = await src.read(buf, 0, buf.length, written);
            if (bytesRead === 0) break;
            written += bytesRead;
            if (written > e.size) break;
            await write(buf.subarray(0, bytesRead));
          }
        } finally { await src.close(); }
      }
      if (written !== e.size) throw new TufError('TUF_STATE', `${e.path ?? name} changed size while being bundled.`, 'environment');
      const pad = (BLOCK - (e.size % BLOCK)) % BLOCK;
      if (pad) await write(Buffer.alloc(pad));
      count++;
    }
    await write(Buffer.alloc(BLOCK * 2));
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  crashPoint('tar:synced');
  await rename(tmp, out);
  fsyncDir(dirname(out));
  return { entries: count, bytes: pos };
}

// ---- reader ---------------------------------------------------------------------------------

function field(h: Buffer, off: number, len: number): Buffer {
  const f = h.subarray(off, off + len);
  const z = f.indexOf(0);
  return z === -1 ? f : f.subarray(0, z);
}

function parseOctal(h: Buffer, off: number, len: number, what: string): number {
  if (h[off]! & 0x80) throw invalid(`base-256 ${what} field`);
  const s = field(h, off, len).toString('latin1').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw invalid(`non-octal ${what} field ${JSON.stringify(s)}`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw invalid(`${what} out of range`);
  return v;
}

function decodeName(b: Buffer): string {
  const s = new TextDecoder('utf-8', { fatal: true });
  try { return s.decode(b); } catch { throw invalid('entry name that is not UTF-8'); }
}

/** Strict pax record parser; only `path` is used, size/linkpath overrides are refused. */
function parsePax(data: Buffer): { path?: string } {
  const out: { path?: string } = {};
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp === -1 || sp - off > 6) throw invalid('malformed pax record length');
    const lenText = data.subarray(off, sp).toString('latin1');
    if (!/^[1-9]\d*$/.test(lenText)) throw invalid('malformed pax record length');
    const len = Number(lenText);
    if (off + len > data.length || len < lenText.length + 4 || data[off + len - 1] !== 0x0a) throw invalid('malformed pax record');
    const rec = decodeName(data.subarray(sp + 1, off + len - 1));
    const eq = rec.indexOf('=');
    if (eq <= 0) throw invalid('malformed pax record');
    const key = rec.slice(0, eq);
    const value = rec.slice(eq + 1);
    if (key === 'path') out.path = value;
    else if (key === 'size' || key === 'linkpath' || key.startsWith('GNU.sparse')) throw invalid(`unsupported pax record ${key}`);
    off += len;
  }
  return out;
}

export interface TarEntry { name: string; offset: number; size: number }

export class TarReader {
  readonly path: string;
  readonly entries: Map<string, TarEntry>;
  private constructor(path: string, entries: Map<string, TarEntry>) { this.path = path; this.entries = entries; }

  static open(path: string): TarReader {
    // A FIFO or device named as the bundle is refused, never blocked on (hardware/files.ts).
    const { fd } = openRegularFileSync(path, { what: 'the bundle' });
    try { return new TarReader(path, TarReader.index(fd)); } finally { closeSync(fd); }
  }

  private static index(fd: number): Map<string, TarEntry> {
    const total = fstatSync(fd).size;
    const entries = new Map<string, TarEntry>();
    const h = Buffer.alloc(BLOCK);
    let pos = 0;
    let paxPath: string | undefined;
    for (;;) {
      if (pos + BLOCK > total) throw invalid('truncated archive (no end-of-archive marker)', { offset: pos });
      if (readSync(fd, h, 0, BLOCK, pos) !== BLOCK) throw invalid('short read', { offset: pos });
      if (h.every((b) => b === 0)) {
        if (paxPath !== undefined) throw invalid('pax header without a following entry', { offset: pos });
        // End of archive: a second zero block should follow (tolerate EOF right after the first).
        if (pos + 2 * BLOCK <= total) {
          readSync(fd, h, 0, BLOCK, pos + BLOCK);
          if (!h.every((b) => b === 0)) throw invalid('data after a zero block', { offset: pos });
        }
        return entries;
      }
      const stored = parseOctal(h, 148, 8, 'checksum');
      let unsigned = 0; let signed = 0;
      for (let i = 0; i < BLOCK; i++) {
        const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
        unsigned += b; signed += b > 127 ? b - 256 : b;
      }
      if (stored !== unsigned && stored !== signed) throw invalid('header checksum mismatch', { offset: pos });
      const magic = h.subarray(257, 263).toString('latin1');
      if (magic !== 'ustar\0' && magic !== 'ustar ') throw invalid('not a ustar header', { offset: pos });
      const type = String.fromCharCode(h[156]!);
      const size = parseOctal(h, 124, 12, 'size');
      const prefix = magic === 'ustar\0' ? decodeName(field(h, 345, 155)) : '';
      const base = decodeName(field(h, 0, 100));
      const dataStart = pos + BLOCK;
      const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
      if (dataStart + size > total) throw invalid('entry data runs past the end of the file', { offset: pos, size });
      if (type === 'x') {
        if (paxPath !== undefined) throw invalid('two pax headers in a row', { offset: pos });
        if (size > MAX_PAX) throw invalid('oversized pax header', { offset: pos, size });
        const data = Buffer.alloc(size);
        if (size > 0 && readSync(fd, data, 0, size, dataStart) !== size) throw invalid('short read', { offset: dataStart });
        paxPath = parsePax(data).path;
        if (paxPath === undefined) paxPath = '';
        pos = next;
        continue;
      }
      const longName = paxPath;
      paxPath = undefined;
      if (type === '0' || type === '\0' || type === '7') {
        const name = checkEntryName(longName || (prefix ? `${prefix}/${base}` : base));
        if (name.endsWith('/')) throw invalid(`regular file named like a directory ${name}`);
        if (entries.has(name)) throw invalid(`duplicate entry ${name}`);
        if (entries.size >= MAX_ENTRIES) throw invalid('too many entries');
        entries.set(name, { name, offset: dataStart, size });
      } else if (type === '5') {
        checkEntryName(longName || (prefix ? `${prefix}/${base}` : base));
        if (size !== 0) throw invalid('directory entry with data');
      } else {
        throw invalid(`unsupported entry type ${JSON.stringify(type)} (only regular files and directories)`, { offset: pos });
      }
      pos = next;
    }
  }

  get(name: string): TarEntry | undefined { return this.entries.get(name); }

  /** A stream of one entry's bytes (re-opens the file: readers do not hold an fd between calls). */
  stream(entry: TarEntry): Readable {
    if (entry.size === 0) return Readable.from([]);
    // Checked like the first open: a FIFO swapped in since then is refused instead of hanging.
    const { fd } = openRegularFileSync(this.path, { what: 'the bundle' });
    return createReadStream('', { fd, start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 256 * 1024 });
  }
}

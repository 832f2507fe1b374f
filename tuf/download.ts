// Streaming target download: bytes go into a staging file next to the destination while the
// length and EVERY listed hash are checked as they arrive; only a complete, matching file is
// fsynced and renamed into place (then the directory is fsynced). Anything else removes the
// staging file, so nothing unverified is ever visible under the destination name. A destination
// that already matches is not downloaded again, but it is fsynced: either way, what this returns
// is on disk.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TufError } from './errors.ts';
import { crashPoint, fsyncDir } from './atomic.ts';
import { mapTufError } from './tufjs.ts';
import { ownerTag, tagIsStale } from './owner.ts';
import type { ProgressInfo, TollgateFetcher } from './fetcher.ts';

export interface TargetInfo { path: string; length: number; hashes: Record<string, string> }

const HASH_NAMES: Record<string, string> = { sha256: 'sha256', sha384: 'sha384', sha512: 'sha512', 'sha3-256': 'sha3-256', 'sha3-512': 'sha3-512', sha224: 'sha224', sha1: 'sha1' };

/** Refuses target paths that could climb out of a directory on any side (server or disk). */
export function checkTargetPath(p: string): void {
  const bad = p.length === 0 || p.length > 4096 || p.startsWith('/') || /^[A-Za-z]:/.test(p) || /[\\\0]/.test(p) || /[\u0000-\u001f]/.test(p)
    || p.split('/').some((s) => s === '..' || s === '.');
  let decodedBad = false;
  try { decodedBad = decodeURIComponent(p).split(/[\\/]/).some((s) => s === '..'); } catch { /* not percent-encoded */ }
  if (bad || decodedBad) {
    throw new TufError('TUF_TARGET_PATH_INVALID', `Target path ${JSON.stringify(p)} is absolute or escapes its directory; refusing it.`, 'denied', { details: { target: p } });
  }
}

function hashers(info: TargetInfo): Array<[string, string, Hash]> {
  const out: Array<[string, string, Hash]> = [];
  for (const [alg, want] of Object.entries(info.hashes)) {
    const node = HASH_NAMES[alg];
    if (!node) throw new TufError('TUF_HASH_MISMATCH', `Target ${info.path} lists hash algorithm ${alg}, which tollgate does not support; refusing it.`, 'denied', { details: { alg } });
    out.push([alg, want.toLowerCase(), createHash(node)]);
  }
  if (out.length === 0) throw new TufError('TUF_METADATA_INVALID', `Target ${info.path} lists no hashes; refusing it.`, 'denied');
  return out;
}

/** True when `file` exists with exactly the listed length and hashes. */
export async function matchesTarget(file: string, info: TargetInfo): Promise<boolean> {
  try {
    const st = await stat(file);
    if (!st.isFile() || st.size !== info.length) return false;
  } catch { return false; }
  const hs = hashers(info);
  for await (const c of createReadStream(file, { highWaterMark: 1024 * 1024 })) for (const [, , h] of hs) h.update(c as Buffer);
  return hs.every(([, want, h]) => h.digest('hex') === want);
}

/** The URL tuf-js would use: hash-prefixed file name when the repository uses consistent snapshots. */
export function targetUrl(base: string, info: TargetInfo, consistent: boolean): string {
  let rel = info.path;
  if (consistent) {
    const first = Object.values(info.hashes)[0];
    const { dir, base: name } = posix.parse(rel);
    rel = dir ? `${dir}/${first}.${name}` : `${first}.${name}`;
  }
  const b = base.endsWith('/') ? base : base + '/';
  return new URL(b + rel.replace(/^\/+/, '')).toString();
}

// Disk writes overlap the network through a write stream (backpressure bounds memory); the
// stream fsyncs the file before it closes (flush: true), before the rename makes it visible.
async function streamInto(fetcher: TollgateFetcher, url: string, info: TargetInfo, staging: string, onProgress?: (p: ProgressInfo) => void): Promise<number> {
  const hs = hashers(info);
  const out = createWriteStream(staging, { flags: 'w', mode: 0o644, flush: true, highWaterMark: 8 * 1024 * 1024 });
  let writeError: unknown;
  out.on('error', (e) => { writeError = e; });
  let received = 0;
  try {
    for await (const chunk of fetcher.stream(url, info.length, onProgress)) {
      if (writeError) throw writeError;
      received += chunk.length;
      if (received > info.length) {
        throw new TufError('TUF_LENGTH_MISMATCH', `${info.path} is longer than the ${info.length} bytes its metadata lists; refusing it.`, 'denied', { details: { target: info.path } });
      }
      for (const [, , h] of hs) h.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((r) => { out.once('drain', r); out.once('error', () => r()); });
    }
    if (received !== info.length) {
      throw new TufError('TUF_LENGTH_MISMATCH', `${info.path} is ${received} bytes where ${info.length} are listed; refusing it.`, 'denied', { details: { target: info.path, received, expected: info.length } });
    }
    for (const [alg, want, h] of hs) {
      const got = h.digest('hex');
      if (got !== want) {
        throw new TufError('TUF_HASH_MISMATCH', `${info.path} does not match its listed ${alg} hash; refusing it (arbitrary-software attack or corrupted mirror).`, 'denied', { details: { target: info.path, alg, expected: want, got } });
      }
    }
    out.end();
    await finished(out);
    if (writeError) throw writeError;
  } catch (e) {
    out.destroy();
    await finished(out).catch(() => undefined);
    throw e;
  }
  return received;
}

async function fsyncFile(file: string): Promise<void> {
  try {
    const fh = await open(file, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch (e) {
    throw new TufError('TUF_STATE', `Cannot flush ${file} to disk (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, 'environment', { cause: e });
  }
}

/**
 * Staging files a killed download of the same destination left behind. Each is named after its
 * owner (owner.ts), so a download still running in another process (another state dir, another
 * container) keeps its file. Unowned names come from tollgate versions before owner tags.
 */
async function removeStaleStaging(dir: string, base: string): Promise<void> {
  let names: string[];
  try { names = await readdir(dir); } catch { return; }
  const prefix = `.${base}.`;
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const m = /^(?:(.+)\.)?[0-9a-f]{12}\.part$/.exec(n.slice(prefix.length));
    if (m && (m[1] === undefined || tagIsStale(m[1]))) await rm(join(dir, n), { force: true });
  }
}

export interface DownloadResult { path: string; cached: boolean; bytes: number }

export async function downloadTarget(opts: {
  fetcher: TollgateFetcher;
  url: string;
  info: TargetInfo;
  dest: string;
  onProgress?: (p: ProgressInfo) => void;
}): Promise<DownloadResult> {
  const { info, dest } = opts;
  checkTargetPath(info.path);
  if (await matchesTarget(dest, info)) {
    // The matching file may be a fresh copy (the gate seeds its staging file from --out) that the
    // caller renames over a good file next: make its bytes durable first, as for a download.
    await fsyncFile(dest);
    return { path: dest, cached: true, bytes: 0 };
  }
  hashers(info); // refuse unsupported algorithms before any byte moves
  const dir = dirname(dest);
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new TufError('TUF_STATE', `Cannot create ${dir}: ${(e as Error).message}.`, 'environment', { cause: e });
  }
  await removeStaleStaging(dir, basename(dest));
  const staging = join(dir, `.${basename(dest)}.${ownerTag()}.${randomBytes(6).toString('hex')}.part`);
  let received = 0;
  try {
    // Each attempt (after a transient failure) restarts the staging file and the hashes.
    received = await opts.fetcher.retrying(() => streamInto(opts.fetcher, opts.url, info, staging, opts.onProgress));
  } catch (e) {
    await rm(staging, { force: true });
    throw mapTufError(e, opts.fetcher.lastError);
  }
  crashPoint('download:synced');
  try {
    await rename(staging, dest);
  } catch (e) {
    await rm(staging, { force: true });
    throw new TufError('TUF_STATE', `Cannot move the verified download into ${dest}: ${(e as Error).message}.`, 'environment', { cause: e });
  }
  fsyncDir(dir);
  return { path: dest, cached: false, bytes: received };
}

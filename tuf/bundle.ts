// Offline bundles for air-gapped devices: a plain ustar archive holding a copy of the repository's
// current metadata and the selected target files, under the same relative paths as on the server
// (metadata/…, targets/…). The device serves it to the normal tuf-js workflow through
// BundleFetcher, so nothing in it is trusted because of how it arrived.
import { readdirSync, statSync } from 'node:fs';
import { readBoundedFileSync } from '../hardware/index.ts';
import { join, posix } from 'node:path';
import { TufError } from './errors.ts';
import { TollgateFetcher, notFound, type FetchLimits, type OpenedStream } from './fetcher.ts';
import { TarReader, writeTar, type TarInput } from './tar.ts';

/** Pseudo-URL bases under which a bundle's files are served to tuf-js. */
export const BUNDLE_METADATA_BASE = 'tollgate-bundle:///metadata/';
export const BUNDLE_TARGETS_BASE = 'tollgate-bundle:///targets/';

export class BundleFetcher extends TollgateFetcher {
  private readonly tar: TarReader;

  constructor(file: string, limits: Partial<FetchLimits> = {}) {
    super(limits);
    this.tar = TarReader.open(file);
  }

  get entryNames(): string[] { return [...this.tar.entries.keys()]; }

  protected async open(url: string, _signal: AbortSignal): Promise<OpenedStream> {
    let u: URL;
    try { u = new URL(url); } catch { throw notFound(url); }
    if (u.protocol !== 'tollgate-bundle:') throw new TufError('TUF_USAGE', `${url} is not a bundle URL.`, 'usage');
    // Entry names are the repository's file paths; URL paths are percent-encoded like a server's.
    let name: string;
    try { name = u.pathname.split('/').map(decodeURIComponent).join('/').replace(/^\/+/, ''); } catch { throw notFound(url); }
    const entry = this.tar.get(name) ?? this.tar.get(u.pathname.replace(/^\/+/, ''));
    if (!entry) throw notFound(url);
    const rs = this.tar.stream(entry);
    return { size: entry.size, chunks: rs, destroy: () => rs.destroy() };
  }
}

interface MetaDoc { signed?: { version?: number; meta?: Record<string, { version?: number }>; targets?: Record<string, { hashes?: Record<string, string> }>; consistent_snapshot?: boolean } }

// Metadata files of the publisher's repository: regular files only (a FIFO would block), and no
// larger than tuf-js would ever fetch one (its targetsMaxLength is 5 MB; delegations are smaller).
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

function readJSON(path: string): MetaDoc {
  const bytes = readBoundedFileSync(path, MAX_METADATA_BYTES, { what: 'repository metadata' });
  try { return JSON.parse(bytes.toString('utf8')) as MetaDoc; } catch (e) {
    throw new TufError('TUF_USAGE', `Cannot read repository metadata ${path}: ${(e as Error).message}.`, 'usage', { cause: e });
  }
}

function exists(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}

function roleFile(metaDir: string, role: string, version: number | undefined): string | undefined {
  const enc = encodeURIComponent(role);
  const candidates = version === undefined ? [`${enc}.json`, `${role}.json`] : [`${version}.${enc}.json`, `${version}.${role}.json`, `${enc}.json`];
  for (const c of candidates) if (exists(join(metaDir, c))) return c;
  return undefined;
}

export interface BundleCreateResult { file: string; entries: number; bytes: number; metadata: string[]; targets: string[] }

/**
 * Packs the current metadata of the repository in `repoDir` (metadata/ and targets/ subdirs) and
 * the targets whose TUF path matches one of `patterns` (glob, `*` within a segment, `**` across).
 * All N.root.json files are included so a device many root versions behind can still walk the chain.
 */
export async function createBundle(repoDir: string, patterns: string[], out: string): Promise<BundleCreateResult> {
  const metaDir = join(repoDir, 'metadata');
  const targetsDir = join(repoDir, 'targets');
  let names: string[];
  try { names = readdirSync(metaDir); } catch (e) {
    throw new TufError('TUF_USAGE', `${metaDir} is not a readable repository metadata directory.`, 'usage', { cause: e });
  }
  const include = new Set<string>();
  for (const n of names) if ((/^\d+\.root\.json$/.test(n) || n === 'root.json' || n === 'timestamp.json') && exists(join(metaDir, n))) include.add(n);
  if (!include.has('timestamp.json')) throw new TufError('TUF_USAGE', `${metaDir} has no timestamp.json.`, 'usage');
  const root = readJSON(join(metaDir, 'root.json'));
  const consistent = root.signed?.consistent_snapshot === true;
  const ts = readJSON(join(metaDir, 'timestamp.json'));
  const snapVersion = ts.signed?.meta?.['snapshot.json']?.version;
  const snapFile = roleFile(metaDir, 'snapshot', consistent ? snapVersion : undefined);
  if (!snapFile) throw new TufError('TUF_USAGE', `${metaDir} lacks snapshot version ${snapVersion}.`, 'usage');
  include.add(snapFile);
  const snapshot = readJSON(join(metaDir, snapFile));
  const targetFiles = new Map<string, string>(); // entry name → disk path
  const matched: string[] = [];
  for (const [fileName, info] of Object.entries(snapshot.signed?.meta ?? {})) {
    const role = fileName.replace(/\.json$/, '');
    const f = roleFile(metaDir, role, consistent ? info.version : undefined);
    if (!f) continue; // the device will report what is missing
    include.add(f);
    const doc = readJSON(join(metaDir, f));
    for (const [path, t] of Object.entries(doc.signed?.targets ?? {})) {
      if (!patterns.some((p) => posix.matchesGlob(path, p))) continue;
      matched.push(path);
      const { dir, base } = posix.parse(path);
      const hashes = Object.values(t.hashes ?? {});
      const candidates = consistent ? hashes.map((h) => (dir ? `${dir}/${h}.${base}` : `${h}.${base}`)) : [];
      candidates.push(path);
      for (const c of candidates) {
        const p = join(targetsDir, ...c.split('/'));
        if (exists(p)) targetFiles.set(`targets/${c}`, p);
      }
    }
  }
  const entries: TarInput[] = [];
  const metaNames = [...include].sort();
  for (const n of metaNames) entries.push({ name: `metadata/${n}`, path: join(metaDir, n), size: statSync(join(metaDir, n)).size });
  for (const [name, p] of [...targetFiles].sort()) entries.push({ name, path: p, size: statSync(p).size });
  const r = await writeTar(out, entries);
  return { file: out, entries: r.entries, bytes: r.bytes, metadata: metaNames, targets: [...new Set(matched)].sort() };
}


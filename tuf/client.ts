// The device workflow: init (pin the root in the TPM), update (tuf-js refresh under the TPM
// floors and the time floor, then commit and raise the floors) and the target session (one such
// update, then look targets up through the delegations and stream them into place).
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TpmAnchor, sha256, type AnchorTPM, type Floors } from './anchor.ts';
import { TufError, rollbackError } from './errors.ts';
import { mapTufError } from './tufjs.ts';
import type { FetchLimits, ProgressInfo, TollgateFetcher } from './fetcher.ts';
import { MetadataStore, removeStaleTemps } from './metadata-store.ts';
import { deriveTrustedRoot, keysetDigest, saveRootHistory, validateRoot } from './root-chain.ts';
import { openSource, repoUrls, withSlash, type Source } from './sources.ts';
import { ensureDirs, readConfig, statePaths, writeConfig, type StatePaths } from './state.ts';
import { decideTime, needsTimeRecord, readTimeRecord, systemNowMs, writeTimeRecord, type TimeDecision, type TpmClockReading } from './timefloor.ts';
import { createUpdater, type HookedUpdater } from './tufjs.ts';
import { downloadTarget, checkTargetPath, targetUrl, type DownloadResult, type TargetInfo } from './download.ts';
import { writeFileAtomic } from './atomic.ts';

export interface DeviceTPM extends AnchorTPM {
  readClock(): Promise<TpmClockReading>;
}

export interface Warning { code: string; message: string; details?: Record<string, unknown> }

export interface DeviceOptions {
  /** The TUF state dir (e.g. /var/lib/tollgate/tuf). */
  stateDir: string;
  tpm: DeviceTPM;
  /** System time override in ms (tests, TOLLGATE_NOW); default: the real clock. */
  nowMs?: number;
  limits?: Partial<FetchLimits>;
  /** Replace the fetcher chosen from the URL (benchmarks). */
  fetcher?: TollgateFetcher;
}

// ---------------------------------------------------------------- init

export interface InitResult {
  stateDir: string;
  metadataUrl: string;
  targetsUrl: string;
  root: { version: number; sha256: string; expires: string };
  anchor: { handle: string; created: boolean; counters: Record<string, string> };
}

export async function initDevice(o: DeviceOptions & { repo?: string; metadataUrl?: string; targetsUrl?: string; rootBytes: Buffer; rootSha256?: string; anchorHandle?: number }): Promise<InitResult> {
  const digest = sha256(o.rootBytes);
  if (o.rootSha256 !== undefined) {
    const want = o.rootSha256.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(want)) throw new TufError('TUF_USAGE', '--root-sha256 must be 64 hex digits.', 'usage');
    if (want !== digest.toString('hex')) {
      throw new TufError('TUF_ROOT_MISMATCH', `The root file's sha256 is ${digest.toString('hex')}, not the expected ${want}; refusing to pin it.`, 'denied',
        { details: { expected: want, actual: digest.toString('hex') } });
    }
  }
  const info = validateRoot(o.rootBytes, 'The root file');
  let urls: { metadataUrl: string; targetsUrl: string };
  if (o.metadataUrl) urls = { metadataUrl: withSlash(o.metadataUrl), targetsUrl: withSlash(o.targetsUrl ?? new URL('../targets/', withSlash(o.metadataUrl)).toString()) };
  else if (o.repo) urls = repoUrls(o.repo);
  else throw new TufError('TUF_USAGE', 'init needs --repo URL.', 'usage');
  if (o.targetsUrl) urls.targetsUrl = withSlash(o.targetsUrl);
  const handle = o.anchorHandle ?? 0x01500020;
  const { anchor, created } = await TpmAnchor.provision(o.tpm, digest, info.keyset, handle);
  const p = statePaths(o.stateDir);
  ensureDirs(p);
  let previous: Buffer | undefined;
  try { previous = readFileSync(p.pinned); } catch { /* fresh */ }
  if (previous && !sha256(previous).equals(digest)) {
    // Metadata trusted under another root means nothing now.
    for (const d of [p.metadata, p.roots]) for (const n of readdirSync(d)) rmSync(join(d, n), { force: true });
    rmSync(p.time, { force: true });
  }
  writeFileAtomic(p.pinned, o.rootBytes);
  writeConfig(p, { layout: 1, ...urls, anchorHandle: handle, rootSha256: digest.toString('hex') });
  const hex = (n: number) => '0x' + n.toString(16).padStart(8, '0');
  return {
    stateDir: o.stateDir, ...urls,
    root: { version: info.version, sha256: digest.toString('hex'), expires: info.expires },
    anchor: {
      handle: hex(handle), created,
      counters: { root: hex(anchor.record.root.handle), timestamp: hex(anchor.activeEpoch.counters.timestamp.handle), snapshot: hex(anchor.activeEpoch.counters.snapshot.handle) },
    },
  };
}

// ---------------------------------------------------------------- update

export interface UpdateResult {
  source: Source['kind'];
  versions: { root: number; timestamp: number; snapshot: number; targets: number };
  floors: { before: Floors; after: Floors; increments: number; epoch: number; newEpoch: boolean };
  written: string[];
  time: { system: string; reference: string; floor: string | null; boundToTpmClock: boolean };
  warnings: Warning[];
}

interface Session {
  paths: StatePaths;
  source: Source;
  store: MetadataStore;
  hooked: HookedUpdater;
  anchor: TpmAnchor;
  floorsBefore: Floors;
  clock: TpmClockReading;
  time: TimeDecision;
  warnings: Warning[];
}

async function openSession(o: DeviceOptions & { bundle?: string }): Promise<Session> {
  const paths = statePaths(o.stateDir);
  const cfg = readConfig(paths);
  ensureDirs(paths);
  for (const d of [paths.dir, paths.metadata, paths.roots]) removeStaleTemps(d);
  const warnings: Warning[] = [];
  const anchor = await TpmAnchor.load(o.tpm, cfg.anchorHandle);
  let pinned: Buffer;
  try { pinned = readFileSync(paths.pinned); } catch (e) {
    throw new TufError('TUF_ROOT_MISMATCH', `The pinned root ${paths.pinned} is missing; restore it (its sha256 is locked in the TPM) or run init again with the same root.`, 'denied', { cause: e });
  }
  anchor.checkPinnedRoot(pinned);
  const chain = deriveTrustedRoot(pinned, paths.roots);
  if (chain.skipped) warnings.push({ code: 'TUF_LOCAL_IGNORED', message: `Local root history ends early (${chain.skipped}); the rest is fetched again.` });
  // Floors of the epoch of the root we start from; after refresh the final root decides.
  const floorsBefore = await anchor.floors(chain.keyset);
  const clock = await o.tpm.readClock();
  const rec = readTimeRecord(paths.time);
  if (rec.problem) warnings.push({ code: 'TUF_LOCAL_IGNORED', message: `Time-floor record ignored (${rec.problem}).` });
  const time = decideTime(o.nowMs ?? systemNowMs(), clock, rec.record, rec.problem);
  if (time.behindMs > 0) {
    warnings.push({
      code: 'TUF_CLOCK_BACKWARDS',
      message: `The system clock (${new Date(time.nowMs).toISOString()}) is ${Math.round(time.behindMs / 1000)} s behind the trusted time floor (${new Date(time.floorMs).toISOString()}); expiry is checked against the floor.`,
      details: { system: new Date(time.nowMs).toISOString(), floor: new Date(time.floorMs).toISOString(), behindMs: time.behindMs },
    });
  }
  const source = openSource({ metadataUrl: cfg.metadataUrl, targetsUrl: cfg.targetsUrl, ...(o.bundle ? { bundle: o.bundle } : {}), ...(o.limits ? { limits: o.limits } : {}), ...(o.fetcher ? { fetcher: o.fetcher } : {}) });
  // A local timestamp below the TPM floor means the state dir was rolled back: not trusted, not
  // fatal — tuf-js fetches a fresh one, which must then clear the floor. (A stale local snapshot
  // needs no filter: it cannot match the version a floor-clearing timestamp lists, so tuf-js
  // fetches that one too; the final versions are checked against the floors after the refresh.)
  const filter = (role: string, bytes: Buffer): string | undefined => {
    if (role !== 'timestamp') return undefined;
    let v: unknown;
    try { v = (JSON.parse(bytes.toString('utf8')) as { signed?: { version?: unknown } }).signed?.version; } catch { return 'local timestamp.json is not valid JSON'; }
    const floor = floorsBefore.timestamp;
    if (typeof v === 'number' && v < floor) {
      warnings.push({ code: 'TUF_LOCAL_IGNORED', message: `Local timestamp.json version ${v} is below the TPM floor ${floor} (the state directory was rolled back); ignored.`, details: { role, version: v, floor } });
      return 'below TPM floor';
    }
    return undefined;
  };
  const store = new MetadataStore({ dir: paths.metadata, mode: 'deferred', rootBytes: chain.bytes, filter, onRoot: (b) => saveRootHistory(paths.roots, b) });
  let hooked: HookedUpdater;
  try {
    hooked = createUpdater({ metadataBaseUrl: source.metadataUrl, targetBaseUrl: source.targetsUrl, fetcher: source.fetcher, store, referenceTime: new Date(time.referenceMs) });
  } catch (e) {
    source.fetcher.close();
    throw mapTufError(e);
  }
  return { paths, source, store, hooked, anchor, floorsBefore, clock, time, warnings };
}

async function refreshAndCommit(s: Session): Promise<UpdateResult> {
  const { hooked, store, anchor } = s;
  s.source.fetcher.lastError = undefined;
  try {
    await hooked.updater.refresh();
  } catch (e) {
    throw mapTufError(e, s.source.fetcher.lastError);
  }
  const t = hooked.trusted;
  const root = t.root;
  const ts = t.timestamp;
  const snap = t.snapshot;
  const targets = t.targets;
  if (!ts || !snap || !targets) throw new TufError('TUF_REPOSITORY', 'The refresh ended without timestamp, snapshot and targets metadata.', 'denied');
  const versions: Floors = { root: root.signed.version, timestamp: ts.signed.version, snapshot: snap.signed.version };
  const finalRootBytes = store.newRoots.at(-1) ?? null;
  const keyset = finalRootBytes ? keysetDigest(finalRootBytes) : keysetDigest(store.read('root'));
  const floors = await anchor.floors(keyset);
  TpmAnchor.check(floors, versions);
  if (ts.signed.snapshotMeta.version < floors.snapshot) throw rollbackError('snapshot', ts.signed.snapshotMeta.version, floors.snapshot, 'TPM floor (listed in timestamp)');
  const written = await store.commit();
  const { epoch, created } = await anchor.ensureEpoch(keyset);
  const raised = await anchor.raise(versions);
  if (needsTimeRecord(s.time)) writeTimeRecord(s.paths.time, s.time.referenceMs, s.clock);
  return {
    source: s.source.kind,
    versions: { ...versions, targets: targets.signed.version },
    floors: { before: s.floorsBefore, after: raised.floors, increments: raised.increments, epoch: epoch.number, newEpoch: created },
    written,
    time: {
      system: new Date(s.time.nowMs).toISOString(), reference: new Date(s.time.referenceMs).toISOString(),
      floor: s.time.floorMs > 0 ? new Date(s.time.floorMs).toISOString() : null, boundToTpmClock: s.time.boundToClock,
    },
    warnings: s.warnings,
  };
}

export async function updateDevice(o: DeviceOptions & { bundle?: string }): Promise<UpdateResult> {
  const s = await openSession(o);
  try {
    return await refreshAndCommit(s);
  } finally {
    s.source.fetcher.close();
  }
}

// ---------------------------------------------------------------- lookup

/** Finds `target` through the delegations of the refreshed metadata; undefined when none lists it. */
async function findTarget(s: Session, target: string) {
  try {
    return await s.hooked.updater.getTargetInfo(target);
  } catch (e) {
    throw mapTufError(e, s.source.fetcher.lastError);
  } finally {
    // Delegated roles verified during the lookup are trusted state too.
    await s.store.commit();
  }
}

/**
 * The role whose signed metadata lists a found target. The walk visits the top-level targets role
 * first, so a path it lists is always found there; otherwise it is the delegated role the walk
 * loaded last (cross-checked against that role's trusted metadata).
 */
function listingRole(s: Session, info: { path: string }): string {
  const t = s.hooked.trusted;
  if (t.targets?.signed.targets[info.path] !== undefined) return 'targets';
  const last = s.hooked.lastTargetsRole();
  const listed = last === undefined ? undefined : t.getRole(last)?.signed.targets[info.path];
  return last !== undefined && last !== 'targets' && listed === info ? last : '(a delegated role)';
}

// ---------------------------------------------------------------- session (one refresh, many targets)

export interface FoundTarget {
  target: string;
  length: number;
  hashes: Record<string, string>;
  custom: Record<string, unknown>;
  /** The role whose metadata lists it: 'targets' (the top-level role) or a delegated role's name. */
  role: string;
}

/**
 * One refresh, then any number of lookups and downloads against that same trusted metadata: a
 * target and the targets that vouch for it (evidence, policy) come from one snapshot, and the TPM
 * floors are raised once. Downloads take only targets this session found, so the hashes always
 * come from the trusted metadata, never from the caller.
 */
export interface TargetSession {
  readonly update: UpdateResult;
  /** Looks `target` up through the delegations; undefined when no trusted metadata lists it. */
  find(target: string): Promise<FoundTarget | undefined>;
  /** Streams a found target into `dest` (staging file next to it, length and hashes checked, then renamed). */
  download(target: string, dest: string, onProgress?: (p: ProgressInfo) => void): Promise<DownloadResult>;
  close(): void;
}

export async function openTargetSession(o: DeviceOptions & { bundle?: string }): Promise<TargetSession> {
  const s = await openSession(o);
  let update: UpdateResult;
  try {
    update = await refreshAndCommit(s);
  } catch (e) {
    s.source.fetcher.close();
    throw e;
  }
  const found = new Map<string, TargetInfo>();
  const consistent = s.hooked.trusted.root.signed.consistentSnapshot;
  let closed = false;
  const open = () => {
    if (closed) throw new TufError('TUF_USAGE', 'This target session is closed; open a new one.', 'usage');
  };
  return {
    update,
    async find(target) {
      open();
      checkTargetPath(target);
      const info = await findTarget(s, target);
      if (!info) return undefined;
      const t: TargetInfo = { path: info.path, length: info.length, hashes: { ...info.hashes } };
      found.set(info.path, t);
      return { target: info.path, length: info.length, hashes: { ...info.hashes }, custom: info.custom, role: listingRole(s, info) };
    },
    async download(target, dest, onProgress) {
      open();
      const info = found.get(target);
      if (!info) throw new TufError('TUF_USAGE', `${target} was not looked up in this session; call find() first.`, 'usage', { details: { target } });
      const url = targetUrl(s.source.targetsUrl, info, consistent);
      return downloadTarget({ fetcher: s.source.fetcher, url, info, dest, ...(onProgress ? { onProgress } : {}) });
    },
    close() {
      if (closed) return;
      closed = true;
      s.source.fetcher.close();
    },
  };
}

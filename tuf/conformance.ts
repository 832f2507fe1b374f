// The tuf-conformance client protocol (CLIENT-CLI.md): init / refresh / download against a
// metadata dir that holds trusted metadata under non-versioned names. No TPM: plain tuf-js with
// our atomic persistence, our fetcher and our streaming target download.
import { mkdirSync, readFileSync } from 'node:fs';
import { readBoundedFileSync } from '../hardware/index.ts';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { TufError } from './errors.ts';
import { mapTufError } from './tufjs.ts';
import { fetcherFor, withSlash } from './sources.ts';
import { MetadataStore, removeStaleTemps } from './metadata-store.ts';
import { createUpdater, MAX_ROOT_BYTES } from './tufjs.ts';
import { downloadTarget, targetUrl } from './download.ts';
import { systemNowMs } from './timefloor.ts';
import type { FetchLimits } from './fetcher.ts';

export function conformanceInit(metadataDir: string, trustedRoot: string): void {
  const bytes = readBoundedFileSync(trustedRoot, MAX_ROOT_BYTES, { what: 'the trusted root' });
  mkdirSync(metadataDir, { recursive: true });
  writeFileAtomic(join(metadataDir, 'root.json'), bytes);
}

function session(metadataUrl: string, metadataDir: string, targetBaseUrl: string | undefined, limits: Partial<FetchLimits>) {
  removeStaleTemps(metadataDir);
  let root: Buffer;
  try { root = readFileSync(join(metadataDir, 'root.json')); } catch (e) {
    throw new TufError('TUF_NOT_INITIALIZED', `${metadataDir} has no root.json; run init first.`, 'usage', { cause: e });
  }
  const fetcher = fetcherFor(metadataUrl, limits);
  const store = new MetadataStore({ dir: metadataDir, mode: 'immediate', rootBytes: root });
  let hooked;
  try {
    hooked = createUpdater({ metadataBaseUrl: withSlash(metadataUrl), ...(targetBaseUrl ? { targetBaseUrl } : {}), fetcher, store, referenceTime: new Date(systemNowMs()) });
  } catch (e) {
    fetcher.close();
    throw mapTufError(e);
  }
  return { fetcher, hooked };
}

const CONFORMANCE_LIMITS: Partial<FetchLimits> = { retries: 0 };

export async function conformanceRefresh(metadataUrl: string, metadataDir: string, limits: Partial<FetchLimits> = CONFORMANCE_LIMITS): Promise<void> {
  const { fetcher, hooked } = session(metadataUrl, metadataDir, undefined, limits);
  try {
    await hooked.updater.refresh();
  } catch (e) {
    throw mapTufError(e, fetcher.lastError);
  } finally {
    fetcher.close();
  }
}

export interface ConformanceDownload { target: string; file: string; cached: boolean }

/** Downloads each target in order with ONE updater; stops at the first failure. */
export async function conformanceDownload(opts: {
  metadataUrl: string; metadataDir: string; targetNames: string[]; targetDir: string; targetBaseUrl: string; limits?: Partial<FetchLimits>;
}): Promise<ConformanceDownload[]> {
  const { fetcher, hooked } = session(opts.metadataUrl, opts.metadataDir, withSlash(opts.targetBaseUrl), opts.limits ?? CONFORMANCE_LIMITS);
  const done: ConformanceDownload[] = [];
  try {
    try { await hooked.updater.refresh(); } catch (e) { throw mapTufError(e, fetcher.lastError); }
    mkdirSync(opts.targetDir, { recursive: true });
    for (const name of opts.targetNames) {
      let info;
      try { info = await hooked.updater.getTargetInfo(name); } catch (e) { throw mapTufError(e, fetcher.lastError); }
      if (!info) throw new TufError('TUF_TARGET_NOT_FOUND', `No trusted targets metadata lists ${name}.`, 'denied', { details: { target: name } });
      // Same local name rule as tuf-js: the whole target path percent-encoded into one file name.
      const file = join(opts.targetDir, encodeURIComponent(info.path));
      const url = targetUrl(withSlash(opts.targetBaseUrl), info, hooked.trusted.root.signed.consistentSnapshot);
      const r = await downloadTarget({ fetcher, url, info, dest: file });
      done.push({ target: name, file, cached: r.cached });
    }
    return done;
  } finally {
    fetcher.close();
  }
}

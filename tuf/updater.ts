// tuf-js's Updater with three things taken over, all through its own extension points or plain
// JS properties (tuf-js 6.0.x):
//  - local metadata reads/writes go to our MetadataStore (atomic, deferred, filtered);
//  - the reference time for every expiry check is ours (the TPM-bound time floor), set on the
//    TrustedMetadataStore that tuf-js creates in its constructor (tuf-js has no option for it);
//  - the fetcher is ours (timeouts, caps, file:// and bundles).
// startup asserts those internals exist, so a tuf-js upgrade that renames them fails loudly
// instead of silently writing unsynced files or checking expiry against the system clock.
import { Updater, type Config, type UpdaterOptions } from 'tuf-js';
import type { TrustedMetadataStore } from 'tuf-js/dist/store.js';
import type { TollgateFetcher } from './fetcher.ts';
import type { MetadataStore } from './metadata-store.ts';
import { TufError } from './errors.ts';

type PublicUpdater = Pick<Updater, 'refresh' | 'getTargetInfo'>;
const BaseUpdater = Updater as unknown as new (o: UpdaterOptions) => PublicUpdater;

export interface HookedUpdater {
  updater: PublicUpdater;
  trusted: TrustedMetadataStore;
}

function assertInternals(): void {
  const proto = Updater.prototype as unknown as Record<string, unknown>;
  if (typeof proto['loadLocalMetadata'] !== 'function' || typeof proto['persistMetadata'] !== 'function') {
    throw new TufError('TUF_STATE', 'This tuf-js version lacks the loadLocalMetadata/persistMetadata hooks tollgate relies on; use tuf-js 6.0.x.', 'environment');
  }
}

/** The largest root.json accepted: tuf-js's rootMaxLength, so a pinned root can always be updated from. */
export const MAX_ROOT_BYTES = 512_000;

export function createUpdater(opts: {
  metadataBaseUrl: string;
  targetBaseUrl?: string;
  fetcher: TollgateFetcher;
  store: MetadataStore;
  referenceTime?: Date;
  config?: Partial<Config>;
}): HookedUpdater {
  assertInternals();
  const { store } = opts;
  class Hooked extends BaseUpdater {
    loadLocalMetadata(role: string): Buffer { return store.read(role); }
    persistMetadata(role: string, bytes: Buffer): void { store.write(role, bytes); }
  }
  const u = new Hooked({
    metadataDir: store.dir,
    metadataBaseUrl: opts.metadataBaseUrl,
    ...(opts.targetBaseUrl ? { targetBaseUrl: opts.targetBaseUrl } : {}),
    fetcher: opts.fetcher,
    config: { ...opts.config },
  });
  const trusted = (u as unknown as { trustedSet?: TrustedMetadataStore }).trustedSet;
  const rt = trusted as unknown as { referenceTime?: unknown } | undefined;
  if (!trusted || !(rt!.referenceTime instanceof Date)) {
    throw new TufError('TUF_STATE', 'This tuf-js version keeps its reference time elsewhere; tollgate cannot apply its time floor. Use tuf-js 6.0.x.', 'environment');
  }
  if (opts.referenceTime) rt!.referenceTime = opts.referenceTime;
  return { updater: u, trusted };
}

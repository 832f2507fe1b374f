// tuf-js's Updater with four things taken over, all through its own extension points or plain
// JS properties (tuf-js 6.0.x):
//  - local metadata reads/writes go to our MetadataStore (atomic, deferred, filtered);
//  - the reference time for every expiry check is ours (the TPM-bound time floor), set on the
//    TrustedMetadataStore that tuf-js creates in its constructor (tuf-js has no option for it);
//  - the fetcher is ours (timeouts, caps, file:// and bundles);
//  - the delegation walk reports which targets role it loaded last, so a lookup can say which role
//    listed the target it found (the gate lets only the top-level role choose trust inputs).
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
  /** The targets role the last delegation walk loaded last: the one that listed the target found. */
  lastTargetsRole(): string | undefined;
}

function assertInternals(): void {
  const proto = Updater.prototype as unknown as Record<string, unknown>;
  if (typeof proto['loadLocalMetadata'] !== 'function' || typeof proto['persistMetadata'] !== 'function' || typeof proto['loadTargets'] !== 'function') {
    throw new TufError('TUF_STATE', 'This tuf-js version lacks the loadLocalMetadata/persistMetadata/loadTargets hooks tollgate relies on; use tuf-js 6.0.x.', 'environment');
  }
}

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
  let lastRole: string | undefined;
  const baseLoadTargets = (Updater.prototype as unknown as { loadTargets: (role: string, parent: string) => Promise<unknown> }).loadTargets;
  class Hooked extends BaseUpdater {
    loadLocalMetadata(role: string): Buffer { return store.read(role); }
    persistMetadata(role: string, bytes: Buffer): void { store.write(role, bytes); }
    // The walk returns the target as soon as a loaded role lists it: the last role loaded is that role.
    loadTargets(role: string, parent: string): Promise<unknown> {
      lastRole = role;
      return baseLoadTargets.call(this, role, parent);
    }
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
  return { updater: u, trusted, lastTargetsRole: () => lastRole };
}

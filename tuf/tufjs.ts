// The one module that knows tuf-js beyond its documented API. Everything tollgate takes from
// tuf-js's internals, written against tuf-js 6.0.x (package.json pins ~6.0.2), is here:
//  - an Updater subclass overriding three of its methods: local metadata reads/writes go to our
//    MetadataStore (atomic, deferred, filtered), and the delegation walk (loadTargets) reports
//    which targets role it loaded last, so a lookup can say which role listed the target it found
//    (the gate lets only the top-level role choose trust inputs);
//  - the reference time of every expiry check (the TPM-bound time floor), set on the private
//    TrustedMetadataStore that the Updater creates (tuf-js has no option for it);
//  - TrustedMetadataStore itself (tuf-js/dist/store.js), to verify root chains without an Updater;
//  - DownloadHTTPError (tuf-js/dist/error.js), which our fetchers throw because tuf-js reads a
//    403/404 as "no newer root";
//  - error classification: tuf-js throws plain errors and wraps some causes into strings, so
//    errors are told apart by message and class name. Each message rule is tested against the
//    real tuf-js (test/tuf/tufjs.test.ts), so a release that rewords one fails there.
// checkTufJs() refuses any other tuf-js version or shape with a typed error before first use, so
// an upgrade fails loudly instead of silently writing unsynced files or checking expiry against
// the system clock.
import { Updater, type Config, type Fetcher, type UpdaterOptions } from 'tuf-js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { TrustedMetadataStore } from 'tuf-js/dist/store.js';
import tufjsPackage from 'tuf-js/package.json' with { type: 'json' };
import type { MetadataStore } from './metadata-store.ts';
import { TufError, type TufErrorCode } from './errors.ts';
import type { ErrorClass } from '../hardware/index.ts';

export { DownloadHTTPError, type Fetcher, type TrustedMetadataStore };

// ---------------------------------------------------------------- self-check

/** The tuf-js releases whose internals this module was written against. */
const SUPPORTED_VERSION = /^6\.0\.\d+$/;
const UPDATER_HOOKS = ['loadLocalMetadata', 'persistMetadata', 'loadTargets'] as const;
const STORE_METHODS = ['updateRoot', 'getRole'] as const;

/** What checkTufJs() looks at: the installed tuf-js unless a test passes another. */
export interface TufJsShape { version: unknown; updater: object; store: object; httpError: unknown }

const installed = (): TufJsShape => ({
  version: (tufjsPackage as { version?: unknown }).version,
  updater: Updater.prototype, store: TrustedMetadataStore.prototype, httpError: DownloadHTTPError,
});

function unsupported(what: string, details: Record<string, unknown>): TufError {
  return new TufError('TUF_STATE', `${what}; tollgate relies on tuf-js 6.0.x internals and refuses to run on anything else. Install tuf-js 6.0.x.`, 'environment', { details });
}

/** Throws TUF_STATE unless `found` is a tuf-js 6.0.x with the internals this module uses. */
export function checkTufJs(found: TufJsShape = installed()): void {
  const { version } = found;
  if (typeof version !== 'string' || !SUPPORTED_VERSION.test(version)) throw unsupported(`tuf-js ${String(version)} is installed`, { version });
  const has = (o: object, names: readonly string[]) => names.filter((n) => typeof (o as Record<string, unknown>)[n] !== 'function');
  const missing = [...has(found.updater, UPDATER_HOOKS).map((n) => `Updater.${n}`), ...has(found.store, STORE_METHODS).map((n) => `TrustedMetadataStore.${n}`)];
  if (typeof found.httpError !== 'function') missing.push('DownloadHTTPError');
  if (missing.length > 0) throw unsupported(`This tuf-js ${version} lacks ${missing.join(', ')}`, { version, missing });
}

let checked = false;
function ensureSupported(): void {
  if (checked) return;
  checkTufJs();
  checked = true;
}

// ---------------------------------------------------------------- trusted metadata

/** tuf-js's trusted set started from a root it verified (self-signed); throws what tuf-js throws. */
export function newTrustedSet(rootBytes: Buffer): TrustedMetadataStore {
  ensureSupported();
  return new TrustedMetadataStore(rootBytes);
}

type PublicUpdater = Pick<Updater, 'refresh' | 'getTargetInfo'>;
const BaseUpdater = Updater as unknown as new (o: UpdaterOptions) => PublicUpdater;

export interface HookedUpdater {
  updater: PublicUpdater;
  trusted: TrustedMetadataStore;
  /** The targets role the last delegation walk loaded last: the one that listed the target found. */
  lastTargetsRole(): string | undefined;
}

/** The largest root.json accepted: tuf-js's rootMaxLength, so a pinned root can always be updated from. */
export const MAX_ROOT_BYTES = 512_000;

export function createUpdater(opts: {
  metadataBaseUrl: string;
  targetBaseUrl?: string;
  fetcher: Fetcher;
  store: MetadataStore;
  referenceTime?: Date;
  config?: Partial<Config>;
}): HookedUpdater {
  ensureSupported();
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

// ---------------------------------------------------------------- errors

// tuf-js wraps some causes into strings (RuntimeError(`Unable to load snapshot metadata error
// ${error}`)), and its model errors are not exported, so we classify by message and class name,
// and prefer the fetcher's typed error when the failure came from a download.

function names(e: unknown): string[] {
  const out: string[] = [];
  let p = e && typeof e === 'object' ? Object.getPrototypeOf(e) : null;
  while (p && p !== Object.prototype) { out.push(p.constructor?.name ?? ''); p = Object.getPrototypeOf(p); }
  return out;
}

interface Rule { id: string; test: RegExp; code: TufErrorCode; cls: ErrorClass; sentence: (m: RegExpMatchArray) => string; details?: (m: RegExpMatchArray) => Record<string, unknown> }

// Order matters: the first rule that matches decides.
const RULES: Rule[] = [
  { id: 'expired', test: /(?:Final )?(\S+)\.json is expired/, code: 'TUF_EXPIRED', cls: 'denied',
    sentence: (m) => `${m[1]} metadata has expired at the trusted reference time; the repository is stale or an attacker is replaying old metadata (freeze attack).`,
    details: (m) => ({ role: m[1] }) },
  { id: 'rollback-trusted', test: /New (timestamp|snapshot) version (\d+) is less than current version (\d+)/, code: 'TUF_ROLLBACK', cls: 'denied',
    sentence: (m) => `${m[1]} version ${m[2]} is below the trusted version ${m[3]}; refusing the rollback.`,
    details: (m) => ({ role: m[1], version: Number(m[2]), floor: Number(m[3]), source: 'trusted metadata' }) },
  { id: 'rollback-snapshot-meta', test: /New version (\d+) of (\S+)\.json is less than current version (\d+)/, code: 'TUF_ROLLBACK', cls: 'denied',
    sentence: (m) => `${m[2]} version ${m[1]} is below the trusted version ${m[3]}; refusing the rollback.`,
    details: (m) => ({ role: m[2], version: Number(m[1]), floor: Number(m[3]), source: 'trusted snapshot' }) },
  { id: 'root-version', test: /Expected version (\d+), got (\d+)/, code: 'TUF_VERSION_MISMATCH', cls: 'denied',
    sentence: (m) => `A root file claims version ${m[2]} where version ${m[1]} was expected; refusing it.`,
    details: (m) => ({ role: 'root', expected: Number(m[1]), got: Number(m[2]) }) },
  { id: 'targets-version', test: /Version (\d+) of (\S+) does not match snapshot version (\d+)/, code: 'TUF_VERSION_MISMATCH', cls: 'denied',
    sentence: (m) => `${m[2]} version ${m[1]} is not the version ${m[3]} the snapshot lists (mix-and-match); refusing it.`,
    details: (m) => ({ role: m[2], got: Number(m[1]), expected: Number(m[3]) }) },
  { id: 'snapshot-version', test: /Snapshot version doesn't match timestamp/, code: 'TUF_VERSION_MISMATCH', cls: 'denied',
    sentence: () => 'The snapshot is not the version the timestamp lists (mix-and-match); refusing it.' },
  { id: 'threshold', test: /(\S+) was signed by (\d+)\/(\d+) keys/, code: 'TUF_SIGNATURE', cls: 'denied',
    sentence: (m) => `${m[1]} metadata carries ${m[2]} valid signature(s) where ${m[3]} are required; refusing it.`,
    details: (m) => ({ role: m[1], valid: Number(m[2]), threshold: Number(m[3]) }) },
  { id: 'length', test: /Expected length (\d+) but got (\d+)/, code: 'TUF_LENGTH_MISMATCH', cls: 'denied',
    sentence: (m) => `A downloaded file is ${m[2]} bytes where ${m[1]} were listed; refusing it.` },
  { id: 'hash', test: /Expected hash (\S+) but got (\S+)/, code: 'TUF_HASH_MISMATCH', cls: 'denied',
    sentence: () => 'A downloaded file does not match the hash its signed metadata lists; refusing it.' },
  { id: 'missing-meta', test: /Missing (\S+) in snapshot|Missing file (\S+) in new snapshot/, code: 'TUF_REPOSITORY', cls: 'denied',
    sentence: (m) => `The snapshot does not list ${m[1] ?? m[2]}; the repository is inconsistent.` },
  // The capitalised form is the store's own check, which tuf-js 6.0 makes unreachable: the model
  // parser refuses a wrong _type first (the lower-case form).
  { id: 'wrong-type', test: /Expected '(\w+)', got (\w+)|expected '(\w+)', got (\w+)/, code: 'TUF_METADATA_INVALID', cls: 'denied',
    sentence: () => 'A metadata file has the wrong _type; refusing it.' },
  { id: 'json', test: /Unexpected token|JSON|is not valid JSON|Unexpected end/, code: 'TUF_METADATA_INVALID', cls: 'denied',
    sentence: () => 'A metadata file is not valid JSON; refusing it.' },
  // Our HttpFetcher's own message, reaching us inside tuf-js's string-wrapped errors.
  { id: 'http-status', test: /GET (\S+) answered (\d+)/, code: 'TUF_HTTP', cls: 'environment',
    sentence: (m) => `The repository answered HTTP ${m[2]} for ${m[1]}.`, details: (m) => ({ url: m[1], status: Number(m[2]) }) },
];

/** Ids of the message rules, in order (tests prove each against the real tuf-js). */
export const MESSAGE_RULES: readonly string[] = RULES.map((r) => r.id);

/** The id of the message rule that classifies `message`, if any. */
export function messageRule(message: string): string | undefined {
  return RULES.find((r) => r.test.test(message))?.id;
}

export function mapTufError(e: unknown, fetcherError?: unknown): TufError {
  if (e instanceof TufError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  // A download failure wrapped by tuf-js: the fetcher kept the typed original.
  if (fetcherError instanceof TufError && (msg.includes(fetcherError.message) || fetcherError === e)) return fetcherError;
  if (e instanceof DownloadHTTPError) {
    return new TufError('TUF_HTTP', `The repository answered HTTP ${e.statusCode} (${msg}).`, 'environment', { cause: e, details: { status: e.statusCode } });
  }
  for (const r of RULES) {
    const m = msg.match(r.test);
    if (m) return new TufError(r.code, r.sentence(m), r.cls, { cause: e, details: { ...(r.details?.(m) ?? {}), tufjs: msg } });
  }
  const cls = names(e);
  if (cls.includes('UnsignedMetadataError')) return new TufError('TUF_SIGNATURE', `Signature check failed: ${msg}.`, 'denied', { cause: e });
  if (cls.includes('LengthOrHashMismatchError')) return new TufError('TUF_HASH_MISMATCH', `Length or hash mismatch: ${msg}.`, 'denied', { cause: e });
  if (cls.includes('RepositoryError') || cls.includes('ValueError') || cls.includes('TypeError') || cls.includes('SyntaxError') || cls.includes('RuntimeError')) {
    return new TufError('TUF_REPOSITORY', `The repository's metadata was refused: ${msg}.`, 'denied', { cause: e });
  }
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new TufError('TUF_STATE', `Local state could not be accessed: ${msg}.`, 'environment', { cause: e });
  }
  return new TufError('TUF_REPOSITORY', `TUF update failed: ${msg}.`, 'denied', { cause: e });
}

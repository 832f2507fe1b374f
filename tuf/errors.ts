// Typed errors of tuf/. Codes are stable strings (ARCHITECTURE.md); the class decides the exit code:
// 'denied' for anything a repository or attacker did wrong (1), 'usage' for bad flags/config (2),
// 'environment' for network, disk and TPM trouble (3).
import { TollgateError, type ErrorClass } from '../hardware/index.ts';

export type TufErrorCode =
  | 'TUF_ROLLBACK' // metadata version below the trusted (or TPM-floor) version
  | 'TUF_EXPIRED' // metadata expired at the reference time (freeze attack)
  | 'TUF_SIGNATURE' // threshold of valid signatures not met
  | 'TUF_HASH_MISMATCH' // metadata or target bytes differ from what the delegator listed
  | 'TUF_LENGTH_MISMATCH' // more (or fewer) bytes than listed
  | 'TUF_METADATA_INVALID' // malformed metadata
  | 'TUF_VERSION_MISMATCH' // a file is not the version its delegator lists (mix-and-match)
  | 'TUF_REPOSITORY' // any other repository-side inconsistency tuf-js reports
  | 'TUF_TARGET_NOT_FOUND'
  | 'TUF_TARGET_PATH_INVALID' // a target path that would escape its directory
  | 'TUF_ENDLESS_DATA' // byte cap exceeded while downloading
  | 'TUF_SLOW_RETRIEVAL' // throughput below the floor
  | 'TUF_TIMEOUT' // connect or read timeout
  | 'TUF_NETWORK' // connection refused, reset, DNS …
  | 'TUF_HTTP' // HTTP status other than 200
  | 'TUF_ROOT_MISMATCH' // the root on disk (or given) differs from the pinned digest
  | 'TUF_ROOT_INVALID' // the root file is not a self-signed TUF root
  | 'TUF_NOT_INITIALIZED' // no state dir / no TPM anchor
  | 'TUF_ANCHOR_INVALID' // the TPM anchor index exists but is not ours / not locked
  | 'TUF_ANCHOR_CONFLICT' // the TPM already pins a different root
  | 'TUF_CLOCK_BACKWARDS' // (warning entry) system clock behind the time floor
  | 'TUF_STATE' // state dir unreadable/unwritable
  | 'TUF_TPM_BUSY' // other TPM clients kept interrupting a counter compare-and-increment
  | 'TUF_BUNDLE_INVALID' // offline bundle archive malformed or hostile
  | 'TUF_USAGE';

export class TufError extends TollgateError {
  constructor(code: TufErrorCode, message: string, errorClass: ErrorClass, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, errorClass, options);
    this.name = 'TufError';
  }
}

/** Metadata of `role` with `version` is below the trusted `floor` (TPM or in-memory trust). */
export function rollbackError(role: string, version: number, floor: number, source: string): TufError {
  return new TufError('TUF_ROLLBACK',
    `${role} version ${version} is below the trusted version ${floor} (${source}); the repository or the local state was rolled back — refusing it.`,
    'denied', { details: { role, version, floor, source } });
}

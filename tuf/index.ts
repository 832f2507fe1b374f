// Public surface of tuf/ (TUF on tuf-js with a TPM-anchored rollback floor and time floor,
// crash-safe trusted state, http/file/bundle fetchers and streaming target download): what agent/
// uses, nothing else. Tests and benchmarks that exercise the parts (fetchers, tar, TPM anchor,
// floor encoding, the tuf-js adapter) import those modules by path.
export { TufError } from './errors.ts';
export { initDevice, updateDevice, openTargetSession, type TargetSession, type FoundTarget, type DeviceTPM, type DeviceOptions, type InitResult, type UpdateResult } from './client.ts';
export { MAX_ROOT_BYTES } from './tufjs.ts';
export { deviceTPM } from './tpm.ts';
export { conformanceInit, conformanceRefresh, conformanceDownload } from './conformance.ts';
export { createBundle } from './bundle.ts';
export type { ProgressInfo } from './fetcher.ts';
export { checkTargetPath } from './download.ts';
export { statePaths, readConfig, type DeviceConfig } from './state.ts';
export { writeFileAtomic } from './atomic.ts';
export { withStateLock, DEFAULT_LOCK_WAIT_MS } from './state-lock.ts';
export { ownerTag, tagIsStale } from './owner.ts';

// Public surface of tuf/: TUF on tuf-js with a TPM-anchored rollback floor and time floor,
// crash-safe trusted state, http/file/bundle fetchers and streaming target download.
export { TufError, rollbackError, type TufErrorCode } from './errors.ts';
export { initDevice, updateDevice, fetchTargetDevice, lookupTargetDevice, openTargetSession, type TargetSession, type FoundTarget, type LookupResult, type DeviceTPM, type DeviceOptions, type InitResult, type UpdateResult, type FetchResult, type Warning } from './client.ts';
export { conformanceInit, conformanceRefresh, conformanceDownload, type ConformanceDownload } from './conformance.ts';
export { createBundle, BundleFetcher, type BundleCreateResult } from './bundle.ts';
export { TarReader, writeTar, ustarHeader, checkEntryName, type TarEntry, type TarInput } from './tar.ts';
export { TollgateFetcher, DEFAULT_LIMITS, type FetchLimits, type ProgressInfo } from './fetcher.ts';
export { HttpFetcher } from './fetcher-http.ts';
export { FileFetcher } from './fetcher-file.ts';
export { fetcherFor, openSource, repoUrls } from './sources.ts';
export {
  TpmAnchor, ANCHOR_HANDLE, MAX_EPOCHS, epochHandles, encodeAnchor, decodeAnchor, TPMA_NV, RECORD_ATTRIBUTES, COUNTER_ATTRIBUTES,
  type AnchorTPM, type Floors, type FloorRole,
} from './anchor.ts';
export { floorOfSteps, stepsForVersion, representableFloor } from './floor-encoding.ts';
export { decideTime, systemNowMs, CLOCK_TOLERANCE_MS, type TimeDecision, type TimeRecord, type TpmClockReading } from './timefloor.ts';
export { downloadTarget, matchesTarget, checkTargetPath, targetUrl, type TargetInfo, type DownloadResult } from './download.ts';
export { statePaths, type StatePaths } from './state.ts';
export { writeFileAtomic } from './atomic.ts';
export { MAX_ROOT_BYTES } from './updater.ts';
export { deviceTPM } from './tpm.ts';

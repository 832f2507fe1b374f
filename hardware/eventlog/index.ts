// Public surface of hardware/eventlog: measured-boot (TCG PC Client) and IMA event logs, parsed,
// decoded with digest checking, replayed to PCR values and compared with a signed quote. Pure
// TypeScript + node:crypto; no TPM is needed.
export { EventLogError, type EventLogErrorCode } from './errors.ts';
export { TCG_LIMITS, IMA_LIMITS, type EventLogLimits } from './limits.ts';
export { EV, eventTypeName, parseTCGLog, eventDigest, type TCGLog, type TCGEvent, type TCGDigest, type SpecIDEvent, type SpecIDAlgorithm } from './tcg.ts';
export {
  decodeTCGEvent, decodeTCGLog, bootSummary, EBS_INVOCATION, EBS_SUCCESS, EBS_FAILURE,
  type DecodedTCGEvent, type DigestCheck, type EventInfo, type BootSummary,
} from './efi.ts';
export { GUID, type VariableData, type SignatureList, type SignatureEntry, type CertificateInfo, type LoadOption, type DevicePath } from './uefi.ts';
export { parseIMABinary, parseIMAAscii, type IMAEntry, type IMAFields, type IMALog, type IMAParseOptions } from './ima.ts';
export { PCRState, type IMAMode } from './state.ts';
export { replayTCG, replayIMA, type IMAReplay } from './replay.ts';
export { matchQuote, quotedPCRs, type QuotedPCRs, type MatchContext, type QuoteMatch } from './match.ts';
export { type EventRef, type MismatchDiagnosis } from './locate.ts';
export { verifyEventLogs, type VerifyEventLogsInput, type VerifiedEventLogs } from './verify.ts';

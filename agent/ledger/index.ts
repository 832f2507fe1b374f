// Public surface of the ledger (agent-side, DESIGN.md): an append-only, hash-chained record of
// every decision and event, anchored in a TPM NV extend index. See ledger.ts for the rules.
export { Ledger, planRecovery, ledgerIndexFor, type LedgerOptions, type LedgerState, type LedgerPlan, type Recovery } from './ledger.ts';
export { LedgerError, type LedgerErrorCode, type TamperKind } from './errors.ts';
export { makeRecord, parseRecordLine, recordHash, LEDGER_FORMAT, MAX_RECORD_BYTES, ZERO_HASH, type LedgerRecord, type LedgerTime } from './record.ts';
export { replay, type Replay, type TornTail } from './replay.ts';
export { LedgerFile, LEDGER_DIR, LEDGER_FILE } from './store.ts';
export { showLedger, checkLedger, type ShowResult, type LedgerCheck } from './read.ts';
export { appendDecision, fetchDecision, vsaDigest, type DecisionData, type DecisionType } from './decisions.ts';
export { canonicalJSON } from './canonical.ts';

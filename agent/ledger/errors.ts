// The ledger's typed errors. LEDGER_TAMPERED names the first bad record and what happened to it
// (details.kind, details.seq), so an operator can find it with `tollgate ledger show --since SEQ`.
import { TollgateError, type ErrorClass } from '../../hardware/index.ts';

export type LedgerErrorCode =
  | 'LEDGER_TAMPERED' // the file's chain is broken, or does not end where the TPM's index says (exit 1)
  | 'LEDGER_NV_RESET' // the TPM's ledger index was removed or redefined under an existing ledger (exit 1)
  | 'LEDGER_NV_FOREIGN' // the ledger index handle holds an index that is not tollgate's (exit 3)
  | 'LEDGER_FILE_INVALID' // the ledger path is not a regular file (FIFO, symlink, device, directory) (exit 3)
  | 'LEDGER_IO' // reading, writing or syncing the ledger failed (disk full, I/O error) (exit 3)
  | 'LEDGER_NOT_FOUND' // no ledger in this state directory and the TPM has none either (exit 2)
  | 'LEDGER_RECORD_INVALID' // a record to append is not valid (type, data, size) (exit 2)
  | 'LEDGER_CONFIG' // TOLLGATE_LEDGER_INDEX is not an owner-range NV index handle (exit 2)
  | 'LEDGER_CLOSED'; // the ledger was closed, or a failed append left it needing a reopen (exit 3)

/** How a tampered ledger differs from what was written. */
export type TamperKind =
  | 'altered' // a record's content does not match its hash, or does not follow the record before it
  | 'removed' // a record is missing from the middle (later sequence numbers are present)
  | 'reordered' // records are out of sequence order
  | 'inserted' // a record appears twice, or one was inserted that does not belong
  | 'truncated' // the file ends before the record the TPM's index was last extended with (records cut off, or the chain rewritten)
  | 'unanchored'; // records after seq N were never extended into the TPM (appended by someone else)

const CLASS: Record<LedgerErrorCode, ErrorClass> = {
  LEDGER_TAMPERED: 'denied',
  LEDGER_NV_RESET: 'denied',
  LEDGER_NV_FOREIGN: 'environment',
  LEDGER_FILE_INVALID: 'environment',
  LEDGER_IO: 'environment',
  LEDGER_NOT_FOUND: 'usage',
  LEDGER_RECORD_INVALID: 'usage',
  LEDGER_CONFIG: 'usage',
  LEDGER_CLOSED: 'environment',
};

export class LedgerError extends TollgateError {
  declare readonly code: LedgerErrorCode;
  constructor(code: LedgerErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CLASS[code], options);
    this.name = 'LedgerError';
  }
}

export function tampered(kind: TamperKind, seq: number, message: string, details: Record<string, unknown> = {}): LedgerError {
  return new LedgerError('LEDGER_TAMPERED', message, { details: { kind, seq, ...details } });
}

export function ioError(what: string, path: string, e: unknown): LedgerError {
  const code = (e as NodeJS.ErrnoException).code;
  return new LedgerError('LEDGER_IO', `Cannot ${what} ${path} (${code ?? (e as Error).message})${code === 'ENOSPC' ? ': the disk is full; free space and retry' : '; check the disk and its permissions'}.`, { cause: e });
}

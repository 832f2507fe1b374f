// Typed errors of evidence creation and appraisal. Evidence that does not decode keeps the codes of
// the layer that refused it (CBOR_*, COSE_*, EAT_*); a check that fails is not an error but a
// contraindicated reason in the EAR. These codes are for the verifier's own inputs (device
// record, reference values, saved state, keys) and for the device side.
import type { ErrorClass } from '../../hardware/index.ts';
import { AttestError } from '../errors.ts';

export type AppraiseErrorCode =
  | 'APPRAISE_REFERENCE_INVALID'
  | 'APPRAISE_RECORD_INVALID'
  | 'APPRAISE_STATE_INVALID'
  | 'APPRAISE_KEY_INVALID'
  | 'EVIDENCE_INPUT_INVALID'
  | 'EVIDENCE_LOG_UNREADABLE'
  | 'EVIDENCE_LOG_INVALID'
  | 'EVIDENCE_LOGS_CHANGING'
  | 'EVIDENCE_SIGNER_FAILED';

const CLASS: Record<AppraiseErrorCode, ErrorClass> = {
  // The verifier's configuration: fix the file.
  APPRAISE_REFERENCE_INVALID: 'usage',
  APPRAISE_RECORD_INVALID: 'usage',
  APPRAISE_STATE_INVALID: 'usage',
  APPRAISE_KEY_INVALID: 'usage',
  // The device side: a bad option, a log file that cannot be read or is not a log, a system
  // that keeps measuring while it is quoted, a TPM that signed with something unexpected.
  EVIDENCE_INPUT_INVALID: 'usage',
  EVIDENCE_LOG_UNREADABLE: 'environment',
  EVIDENCE_LOG_INVALID: 'usage',
  EVIDENCE_LOGS_CHANGING: 'environment',
  EVIDENCE_SIGNER_FAILED: 'environment',
};

export class AppraiseError extends AttestError {
  declare readonly code: AppraiseErrorCode;
  constructor(code: AppraiseErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CLASS[code], options);
    this.name = 'AppraiseError';
  }
}

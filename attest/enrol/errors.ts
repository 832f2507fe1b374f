// Typed errors of enrolment (README.md in this folder). Everything a device sends that the
// verifier refuses is 'denied' (exit 1); the operator's own mistakes are 'usage' (exit 2); a state
// directory or TPM that cannot be used is 'environment' (exit 3).
import type { ErrorClass } from '../../hardware/index.ts';
import { AttestError } from '../errors.ts';

export type EnrolErrorCode =
  // Wire documents that do not parse or break a rule of their shape.
  | 'ENROL_REQUEST_INVALID'
  | 'ENROL_CHALLENGE_INVALID'
  | 'ENROL_PROOF_INVALID'
  | 'ENROL_RECORD_INVALID'
  // The verifier's checks of an enrolment request.
  | 'ENROL_EK_PUBLIC_INVALID'
  | 'ENROL_EK_CERT_MISSING'
  | 'ENROL_EK_CHAIN_INVALID'
  | 'ENROL_AK_INVALID'
  | 'ENROL_AK_NAME_MISMATCH'
  | 'ENROL_DEVICE_KEY_INVALID'
  | 'ENROL_DEVICE_KEY_CERTIFY_INVALID'
  // Finishing: the proof of the credential, and the pending enrolment it answers.
  | 'ENROL_PROOF_WRONG'
  | 'ENROL_UNKNOWN'
  | 'ENROL_REPLAYED'
  | 'ENROL_EXPIRED'
  | 'ENROL_ID_INVALID'
  // The verifier's state directory.
  | 'ENROL_STATE_INVALID'
  | 'ENROL_STATE_FULL'
  | 'ENROL_STATE_WRITE_FAILED'
  // The device side.
  | 'ENROL_NO_EK_CERT'
  | 'ENROL_ACTIVATION_FAILED'
  | 'ENROL_OPTIONS_INVALID';

const CLASS: Record<EnrolErrorCode, ErrorClass> = {
  ENROL_REQUEST_INVALID: 'denied',
  ENROL_CHALLENGE_INVALID: 'denied',
  ENROL_PROOF_INVALID: 'denied',
  ENROL_RECORD_INVALID: 'denied',
  ENROL_EK_PUBLIC_INVALID: 'denied',
  ENROL_EK_CERT_MISSING: 'denied',
  ENROL_EK_CHAIN_INVALID: 'denied',
  ENROL_AK_INVALID: 'denied',
  ENROL_AK_NAME_MISMATCH: 'denied',
  ENROL_DEVICE_KEY_INVALID: 'denied',
  ENROL_DEVICE_KEY_CERTIFY_INVALID: 'denied',
  ENROL_PROOF_WRONG: 'denied',
  ENROL_UNKNOWN: 'denied',
  ENROL_REPLAYED: 'denied',
  ENROL_EXPIRED: 'denied',
  ENROL_ID_INVALID: 'usage',
  ENROL_STATE_INVALID: 'environment',
  ENROL_STATE_FULL: 'environment',
  ENROL_STATE_WRITE_FAILED: 'environment',
  ENROL_NO_EK_CERT: 'environment',
  ENROL_ACTIVATION_FAILED: 'denied',
  ENROL_OPTIONS_INVALID: 'usage',
};

export class EnrolError extends AttestError {
  declare readonly code: EnrolErrorCode;
  constructor(code: EnrolErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CLASS[code], options);
    this.name = 'EnrolError';
  }
}

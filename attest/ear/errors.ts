// Typed errors of EAR (EAT Attestation Results) building, signing, decoding and verification.
import type { ErrorClass } from '../../hardware/index.ts';
import { AttestError } from '../errors.ts';

export type EarErrorCode =
  | 'EAR_INPUT_INVALID'
  | 'EAR_KEY_MISMATCH'
  | 'EAR_TOO_LARGE'
  | 'EAR_MALFORMED'
  | 'EAR_PROFILE_MISMATCH'
  | 'EAR_CLAIM_INVALID'
  | 'EAR_ALG_UNSUPPORTED'
  | 'EAR_SIGNATURE_INVALID';

const CLASS: Record<EarErrorCode, ErrorClass> = {
  EAR_INPUT_INVALID: 'usage',
  EAR_KEY_MISMATCH: 'usage',
  EAR_TOO_LARGE: 'denied',
  EAR_MALFORMED: 'denied',
  EAR_PROFILE_MISMATCH: 'denied',
  EAR_CLAIM_INVALID: 'denied',
  EAR_ALG_UNSUPPORTED: 'denied',
  EAR_SIGNATURE_INVALID: 'denied',
};

export class EarError extends AttestError {
  declare readonly code: EarErrorCode;
  constructor(code: EarErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CLASS[code], options);
    this.name = 'EarError';
  }
}

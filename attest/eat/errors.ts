// Typed errors of the tollgate EAT profile (attest/eat/PROFILE.md).
import type { ErrorClass } from '../../hardware/index.ts';
import { AttestError } from '../errors.ts';

export type EatErrorCode =
  | 'EAT_TOO_LARGE'
  | 'EAT_MALFORMED'
  | 'EAT_MEDIA_TYPE_MISMATCH'
  | 'EAT_PROFILE_MISMATCH'
  | 'EAT_CLAIM_MISSING'
  | 'EAT_CLAIM_INVALID'
  | 'EAT_QUOTE_BINDING_MISMATCH'
  | 'EAT_QUOTE_MISSING'
  | 'EAT_INPUT_INVALID';

const CLASS: Record<EatErrorCode, ErrorClass> = {
  EAT_TOO_LARGE: 'denied',
  EAT_MALFORMED: 'denied',
  EAT_MEDIA_TYPE_MISMATCH: 'denied',
  EAT_PROFILE_MISMATCH: 'denied',
  EAT_CLAIM_MISSING: 'denied',
  EAT_CLAIM_INVALID: 'denied',
  EAT_QUOTE_BINDING_MISMATCH: 'denied',
  // Building evidence from bad parts, or encoding it before the quote is attached: the caller's mistake.
  EAT_QUOTE_MISSING: 'usage',
  EAT_INPUT_INVALID: 'usage',
};

/** Evidence that does not follow the tollgate EAT profile, or parts that cannot make such evidence. */
export class EatError extends AttestError {
  declare readonly code: EatErrorCode;
  constructor(code: EatErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CLASS[code], options);
    this.name = 'EatError';
  }
}

// Typed errors of the CBOR and COSE layers. Both extend AttestError, so callers that already treat
// any AttestError as "this input is refused" keep doing so.
import type { ErrorClass } from '../../hardware/index.ts';
import { AttestError } from '../errors.ts';

export type CborErrorCode =
  | 'CBOR_TOO_LARGE'
  | 'CBOR_TRUNCATED'
  | 'CBOR_MALFORMED'
  | 'CBOR_TRAILING_BYTES'
  | 'CBOR_INDEFINITE_LENGTH'
  | 'CBOR_TAG_NOT_ALLOWED'
  | 'CBOR_TOO_DEEP'
  | 'CBOR_TOO_MANY_ITEMS'
  | 'CBOR_DUPLICATE_KEY'
  | 'CBOR_KEY_UNSUPPORTED'
  | 'CBOR_UNSUPPORTED_TYPE'
  | 'CBOR_UTF8_INVALID'
  | 'CBOR_NOT_DETERMINISTIC'
  | 'CBOR_ENCODE_UNSUPPORTED';

/** Input that is not CBOR tollgate accepts (see cbor.ts for the profile), or a value it cannot encode. */
export class CborError extends AttestError {
  declare readonly code: CborErrorCode;
  constructor(code: CborErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    // Encoding failures are a caller's mistake; everything else is hostile or broken input.
    super(code, message, code === 'CBOR_ENCODE_UNSUPPORTED' ? 'usage' : 'denied', options);
    this.name = 'CborError';
  }
}

export type CoseErrorCode =
  | 'COSE_MALFORMED'
  | 'COSE_WRONG_TAG'
  | 'COSE_HEADER_INVALID'
  | 'COSE_ALG_MISSING'
  | 'COSE_ALG_UNPROTECTED'
  | 'COSE_ALG_UNSUPPORTED'
  | 'COSE_CRIT_UNSUPPORTED'
  | 'COSE_DETACHED_PAYLOAD'
  | 'COSE_KEY_MISMATCH'
  | 'COSE_SIGNATURE_INVALID'
  | 'COSE_SIGNER_FAILED';

const COSE_CLASS: Record<CoseErrorCode, ErrorClass> = {
  COSE_MALFORMED: 'denied',
  COSE_WRONG_TAG: 'denied',
  COSE_HEADER_INVALID: 'denied',
  COSE_ALG_MISSING: 'denied',
  COSE_ALG_UNPROTECTED: 'denied',
  COSE_ALG_UNSUPPORTED: 'denied',
  COSE_CRIT_UNSUPPORTED: 'denied',
  COSE_DETACHED_PAYLOAD: 'denied',
  COSE_KEY_MISMATCH: 'usage',
  COSE_SIGNATURE_INVALID: 'denied',
  // The signer is usually the TPM: its failure is the environment's, not the input's.
  COSE_SIGNER_FAILED: 'environment',
};

/** A COSE message that is malformed, uses what tollgate does not accept, or does not verify. */
export class CoseError extends AttestError {
  declare readonly code: CoseErrorCode;
  constructor(code: CoseErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, COSE_CLASS[code], options);
    this.name = 'CoseError';
  }
}

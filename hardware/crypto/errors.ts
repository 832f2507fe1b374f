// Typed errors of hardware/crypto. Bad arguments from our own callers are 'usage'; bytes that came
// from outside (a credential file, a signature, a key) and do not parse are 'denied', since the
// verification they were part of has failed.
import { TollgateError, type ErrorClass } from '../errors.ts';

export type TpmCryptoErrorCode =
  | 'TPM_CRYPTO_INVALID_ARGUMENT'
  | 'TPM_CRYPTO_UNSUPPORTED_ALG'
  | 'TPM_CRYPTO_MALFORMED'
  | 'TPM_CRYPTO_INTEGRITY';

const CLASS: Record<TpmCryptoErrorCode, ErrorClass> = {
  TPM_CRYPTO_INVALID_ARGUMENT: 'usage',
  TPM_CRYPTO_UNSUPPORTED_ALG: 'usage',
  TPM_CRYPTO_MALFORMED: 'denied',
  TPM_CRYPTO_INTEGRITY: 'denied',
};

export class TpmCryptoError extends TollgateError {
  declare readonly code: TpmCryptoErrorCode;

  constructor(code: TpmCryptoErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CLASS[code], options);
    this.name = 'TpmCryptoError';
  }
}

export function invalidArgument(message: string, details?: Record<string, unknown>): TpmCryptoError {
  return new TpmCryptoError('TPM_CRYPTO_INVALID_ARGUMENT', message, details ? { details } : undefined);
}

export function malformed(message: string, details?: Record<string, unknown>, cause?: unknown): TpmCryptoError {
  return new TpmCryptoError('TPM_CRYPTO_MALFORMED', message, { ...(details ? { details } : {}), ...(cause !== undefined ? { cause } : {}) });
}

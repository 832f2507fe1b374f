// Errors of the TPM stack that are not TPM response codes: transport failures, malformed bytes,
// bad arguments. (Response codes become TPMError, in rc.ts.)
import { TollgateError } from './errors.ts';

/** The link to the TPM failed: TPM_TIMEOUT, TPM_TRANSPORT_CLOSED, TPM_CONNECT_FAILED, TPM_DEVICE_ERROR, TPM_NOT_FOUND, TPM_TRANSPORT_PROTOCOL. */
export class TPMTransportError extends TollgateError {
  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, 'environment', options);
    this.name = 'TPMTransportError';
  }
}

/**
 * Bytes that do not follow the TPM 2.0 structure rules. Decoding a response: TPM_MALFORMED_RESPONSE
 * (environment). Encoding a value a caller gave us: TPM_BAD_VALUE (usage).
 */
export class TPMMarshalError extends TollgateError {
  constructor(code: 'TPM_MALFORMED_RESPONSE' | 'TPM_BAD_VALUE', message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, code === 'TPM_BAD_VALUE' ? 'usage' : 'environment', options);
    this.name = 'TPMMarshalError';
  }
}

/** A caller asked for something the TPM stack cannot do: TPM_URI_INVALID, TPM_BAD_ARGUMENT, TPM_CLOSED. */
export class TPMUsageError extends TollgateError {
  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, 'usage', options);
    this.name = 'TPMUsageError';
  }
}

/** A response failed its session check (e.g. response HMAC mismatch): TPM_RESPONSE_AUTH_FAILED. */
export class TPMResponseAuthError extends TollgateError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('TPM_RESPONSE_AUTH_FAILED', message, 'environment', options);
    this.name = 'TPMResponseAuthError';
  }
}

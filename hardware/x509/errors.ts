// Typed errors of the X.509 reader and the EK chain check. Every failure a hostile or broken
// certificate can cause ends in one of these; nothing else escapes the parser.
import { TollgateError, type ErrorClass } from '../errors.ts';

export type X509ErrorCode =
  /** Not DER/BER we can read, or not the shape of an X.509 certificate. */
  | 'X509_MALFORMED'
  /** Over a size, depth or element cap (a certificate is a few KiB; these protect memory and time). */
  | 'X509_TOO_LARGE'
  /** Well-formed, but uses an algorithm or key type we do not verify. */
  | 'X509_UNSUPPORTED';

export class X509Error extends TollgateError {
  declare readonly code: X509ErrorCode;
  constructor(code: X509ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, 'denied', options);
    this.name = 'X509Error';
  }
}

export type EKChainErrorCode =
  /** No certificate in the intermediates or the root store is named as the issuer of a link. */
  | 'EK_CHAIN_NO_ISSUER'
  /** A certificate named as the issuer did not sign the link. */
  | 'EK_CHAIN_BAD_SIGNATURE'
  /** The issuer is not a CA (basicConstraints cA=false or missing on an intermediate, or keyUsage without keyCertSign). */
  | 'EK_CHAIN_NOT_CA'
  /** An issuer's pathLenConstraint is exceeded. */
  | 'EK_CHAIN_PATH_LENGTH'
  | 'EK_CHAIN_NOT_YET_VALID'
  | 'EK_CHAIN_EXPIRED'
  /** The path would be longer than the cap, or path building tried too many candidates. */
  | 'EK_CHAIN_TOO_LONG'
  /** A link uses a signature algorithm or key we do not verify. */
  | 'EK_CHAIN_UNSUPPORTED_ALGORITHM'
  /** The leaf or an intermediate does not parse. */
  | 'EK_CHAIN_MALFORMED'
  /** The root store or an operator CA bundle could not be read or parsed. */
  | 'EK_ROOT_STORE_INVALID'
  /** The caller's options are not usable (e.g. the time to check at is not a date). */
  | 'EK_CHAIN_OPTIONS_INVALID';

const CHAIN_CLASS: Record<EKChainErrorCode, ErrorClass> = {
  EK_CHAIN_NO_ISSUER: 'denied',
  EK_CHAIN_BAD_SIGNATURE: 'denied',
  EK_CHAIN_NOT_CA: 'denied',
  EK_CHAIN_PATH_LENGTH: 'denied',
  EK_CHAIN_NOT_YET_VALID: 'denied',
  EK_CHAIN_EXPIRED: 'denied',
  EK_CHAIN_TOO_LONG: 'denied',
  EK_CHAIN_UNSUPPORTED_ALGORITHM: 'denied',
  EK_CHAIN_MALFORMED: 'denied',
  EK_ROOT_STORE_INVALID: 'usage',
  EK_CHAIN_OPTIONS_INVALID: 'usage',
};

export class EKChainError extends TollgateError {
  declare readonly code: EKChainErrorCode;
  constructor(code: EKChainErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CHAIN_CLASS[code], options);
    this.name = 'EKChainError';
  }
}

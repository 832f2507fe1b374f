import { TollgateError, type ErrorClass } from '../hardware/index.ts';

// Malformed or hostile input to a parser in attest/ (bad JSON, bad base64, wrong payload type,
// unknown SBOM version, …): the input is refused, never half-used.
export class AttestError extends TollgateError {
  constructor(code: string, message: string, errorClass: ErrorClass = 'denied', options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, errorClass, options);
    this.name = 'AttestError';
  }
}

// A policy document that does not validate: `path` names the offending JSON path (e.g. '$.sbom.licenses.allow[2]').
export class PolicyError extends TollgateError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('POLICY_INVALID', `policy ${path}: ${message}`, 'usage', { details: { path } });
    this.name = 'PolicyError';
    this.path = path;
  }
}

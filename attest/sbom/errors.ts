import { AttestError } from '../errors.ts';

// SBOM parsing and validation failures. Codes: SBOM_UNSUPPORTED_VERSION (a format/version we do not
// speak), SBOM_SCHEMA_INVALID (fails the official JSON schema; `path` is the JSON pointer-ish path
// of the first violation), SBOM_MALFORMED (not an SBOM at all / too deep / too large),
// PURL_INVALID (a package URL the purl spec rejects).
export class SBOMError extends AttestError {
  readonly path: string | undefined;
  constructor(code: string, message: string, options?: { path?: string; details?: Record<string, unknown>; cause?: unknown }) {
    super(code, message, 'denied', {
      cause: options?.cause,
      details: { ...(options?.path !== undefined ? { path: options.path } : {}), ...(options?.details ?? {}) },
    });
    this.name = 'SBOMError';
    this.path = options?.path;
  }
}

import { AttestError } from '../errors.ts';

// OSV database and record failures (OSV_DATABASE_INVALID: the file as a whole; OSV_RECORD_INVALID:
// one record, `where` names it), and CVSS_INVALID for a vector string that is not CVSS.
export class OSVError extends AttestError {
  constructor(code: 'OSV_DATABASE_INVALID' | 'OSV_RECORD_INVALID' | 'CVSS_INVALID' | 'VEX_INVALID', message: string, details?: Record<string, unknown>) {
    super(code, message, 'denied', details ? { details } : undefined);
    this.name = 'OSVError';
  }
}

// A verification result is a list of checks, each passed, failed or not applicable, with a reason
// a person can read. The overall decision is allow only when no check failed.

export type CheckStatus = 'passed' | 'failed' | 'not-applicable';

export interface Check {
  /** Stable id, e.g. 'sigstore.identity', 'slsa.builder-id', 'sbom.license', 'vuln.CVE-2024-1234'. */
  id: string;
  status: CheckStatus;
  /** Why: for failures, what was expected and what was found. */
  reason: string;
  details?: Record<string, unknown>;
}

export function passed(id: string, reason: string, details?: Record<string, unknown>): Check {
  return { id, status: 'passed', reason, ...(details ? { details } : {}) };
}

export function failed(id: string, reason: string, details?: Record<string, unknown>): Check {
  return { id, status: 'failed', reason, ...(details ? { details } : {}) };
}

export function notApplicable(id: string, reason: string): Check {
  return { id, status: 'not-applicable', reason };
}

export function decision(checks: Check[]): 'allow' | 'deny' {
  return checks.some((c) => c.status === 'failed') ? 'deny' : 'allow';
}

// A readable view of an appraisal for `tollgate appraise`: the status, the trustworthiness vector,
// and one line per checked claim, with the expected and actual values of every claim that failed.
import { tierOf, type ClaimReason, type TrustTier } from '../ear/index.ts';
import type { AppraiseResult } from './appraise.ts';

const MARK: Record<TrustTier, string> = { affirming: 'OK  ', warning: 'WARN', contraindicated: 'FAIL', none: '--  ' };

function reasonLines(r: ClaimReason): string[] {
  const lines = [`  ${MARK[r.status]}  ${r.claim}: ${r.message}`];
  if (r.status !== 'affirming') {
    if (r.expected !== undefined) lines.push(`          expected: ${r.expected}`);
    if (r.actual !== undefined) lines.push(`          actual:   ${r.actual}`);
  }
  return lines;
}

/** The appraisal as text. */
export function renderAppraisal(r: AppraiseResult): string {
  const a = r.appraisal;
  const lines = [`Appraisal: ${a.status.toUpperCase()}${a.policyId ? ` (policy ${a.policyId})` : ''}`];
  const tv = Object.entries(a.trustVector ?? {});
  if (tv.length) lines.push(`Trustworthiness vector: ${tv.map(([k, v]) => `${k} ${v} (${tierOf(v)})`).join(', ')}`);
  const f = r.facts;
  lines.push(`Evidence: UEID ${f.ueid.slice(0, 18)}…, issued ${f.issuedAt}${f.quote ? `, TPM clock ${f.quote.clock} ms (resets ${f.quote.resetCount}, restarts ${f.quote.restartCount}), PCRs ${f.quote.pcrs}` : ''}`);
  lines.push('Claims:');
  for (const reason of a.reasons ?? []) lines.push(...reasonLines(reason));
  return lines.join('\n') + '\n';
}

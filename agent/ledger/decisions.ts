// The events tollgate records, with the data each carries. Record types are open (any dotted
// lower-case name is accepted), but the runtime writes these, so readers (the collector, `ledger
// show`) can rely on their shape. `ledger.created` and `ledger.recovered` are the ledger's own.
import type { Ledger } from './ledger.ts';
import type { LedgerRecord } from './record.ts';

export interface DecisionData {
  /** A TUF refresh: its outcome and the versions (or the error code) it ended with. */
  update: { result: 'success' | 'failure'; versions?: Record<string, number>; error?: string };
  /** fetch/install: allow or deny, the artifact's digest and the VSA's digest (sha256 of the statement). */
  fetch: { decision: 'allow' | 'deny'; target: string; sha256: string; vsaDigest?: string; failedChecks?: string[] };
  /** A rollback attempt that was refused (a role's version below the TPM floor). */
  rollback: { role: string; version: number; floor: number };
  /** A revocation (of a key, a device, an artifact) that took effect. */
  revocation: { subject: string; reason?: string };
  /** A periodic re-check of installed artifacts against current policy. */
  recheck: { target: string; sha256: string; decision: 'allow' | 'deny'; vsaDigest?: string };
  /** The runtime started. */
  boot: { version: string };
  /** A configuration change (gate.json, policy target, collector): what and its new digest. */
  config: { what: string; sha256?: string };
  /** Records the outbox could not deliver and dropped, by seq range. */
  'outbox.gap': { from: number; to: number; reason: string };
}

export type DecisionType = keyof DecisionData;

/** Records a decision; act on it only after this resolves (it is then on disk and in the TPM). */
export function appendDecision<K extends DecisionType>(ledger: Ledger, type: K, data: DecisionData[K]): Promise<LedgerRecord> {
  return ledger.append(type, data as unknown as Record<string, unknown>);
}

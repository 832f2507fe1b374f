// The events tollgate records, with the data each carries. Record types are open (any dotted
// lower-case name is accepted), but the runtime writes these, so readers (the collector, `ledger
// show`) can rely on their shape. `ledger.created` and `ledger.recovered` are the ledger's own.
import { createHash } from 'node:crypto';
import { canonicalJSON } from './canonical.ts';
import type { Ledger } from './ledger.ts';
import type { LedgerRecord } from './record.ts';

export interface DecisionData {
  /** A TUF refresh: its outcome and the versions (or the error code) it ended with. */
  update: { result: 'success' | 'failure'; versions?: Record<string, number>; error?: string };
  /**
   * fetch/install: allow, deny, or unverified (a plain TUF fetch: no policy, no evidence); the
   * target's length and SHA-256 as TUF lists them, the role that lists it, the VSA's digest
   * (vsaDigest: SHA-256 of the VSA statement's canonical JSON, RFC 8785), the failed checks, and
   * the policy's SHA-256.
   */
  fetch: { decision: 'allow' | 'deny' | 'unverified'; target: string; sha256?: string; length?: number; role?: string; vsaDigest?: string; failedChecks?: string[]; policySha256?: string };
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

/** SHA-256 (hex) of a VSA statement's canonical JSON (RFC 8785): what `vsaDigest` records. */
export function vsaDigest(vsa: unknown): string {
  return createHash('sha256').update(canonicalJSON(JSON.parse(JSON.stringify(vsa)))).digest('hex');
}

/** The `fetch` record for a gate decision (agent/gate.ts GateDecision). */
export function fetchDecision(d: {
  target: string; decision: 'allow' | 'deny' | 'unverified'; length: number; hashes: Record<string, string>; role: string;
  checks: ReadonlyArray<{ id: string; status: string }>; vsa?: unknown; policySha256?: string;
}): DecisionData['fetch'] {
  const failed = d.checks.filter((c) => c.status === 'failed').map((c) => c.id);
  return {
    decision: d.decision, target: d.target, length: d.length, role: d.role,
    ...(d.hashes.sha256 ? { sha256: d.hashes.sha256.toLowerCase() } : {}),
    ...(d.vsa !== undefined ? { vsaDigest: vsaDigest(d.vsa) } : {}),
    ...(failed.length ? { failedChecks: failed } : {}),
    ...(d.policySha256 ? { policySha256: d.policySha256 } : {}),
  };
}

// Reading the ledger without changing it: `ledger show` (no TPM: the chain is checked, the TPM
// anchor is not) and a read-only check against the TPM (what open() would do, without doing it).
import { hex32, inspectLedgerIndex, readLedgerIndex, type TPM } from '../../hardware/index.ts';
import { LedgerError, type TamperKind } from './errors.ts';
import { ledgerIndexFor, planRecovery } from './ledger.ts';
import { replay, type TornTail } from './replay.ts';
import { LedgerFile } from './store.ts';
import type { LedgerRecord } from './record.ts';

export interface ShowResult {
  path: string;
  /** Valid records in the file (all of them, not only those shown). */
  count: number;
  head: string;
  /** A torn last line (a crash mid-append; the next writer drops it). */
  tail: TornTail | undefined;
  /** Where the chain breaks, if it does: records from there on are not shown. */
  problem: { code: string; message: string; kind?: TamperKind; seq?: number } | undefined;
}

/** Calls `each` for every valid record with seq >= since, in order. LEDGER_NOT_FOUND when there is no ledger. */
export function showLedger(stateRoot: string, since: number, each: (r: LedgerRecord) => void): ShowResult {
  const file = LedgerFile.inState(stateRoot);
  if (!file.exists()) throw new LedgerError('LEDGER_NOT_FOUND', `There is no ledger at ${file.path}; check --state.`);
  const r = replay(file, { onRecord: (rec) => { if (rec.seq >= since) each(rec); } });
  const p = r.problem;
  return {
    path: file.path, count: r.count, head: r.head, tail: r.tail,
    problem: p ? { code: p.code, message: p.message, kind: p.details?.kind as TamperKind, seq: p.details?.seq as number } : undefined,
  };
}

export interface LedgerCheck {
  path: string;
  index: number;
  count: number;
  head: string;
  /** The index value. */
  nv: string;
  /** Consistent as it is, or consistent once open() has done these repairs. */
  status: 'consistent' | 'recoverable';
  tail: TornTail | undefined;
  /** seq of a synced record not yet extended. */
  rollForward: number | undefined;
}

/** Replays the ledger against the TPM index and judges it like open() does, changing nothing. */
export async function checkLedger(stateRoot: string, tpm: TPM, index: number = ledgerIndexFor(stateRoot)): Promise<LedgerCheck> {
  const file = LedgerFile.inState(stateRoot);
  const st = await inspectLedgerIndex(tpm, index);
  if (st.state === 'foreign') throw new LedgerError('LEDGER_NV_FOREIGN', `NV index ${hex32(index)} holds an index that is not tollgate's ledger index: ${st.reason}.`);
  if (st.state === 'absent') {
    if (file.exists() && replay(file).count > 0) throw new LedgerError('LEDGER_NV_RESET', `The TPM has no ledger index at ${hex32(index)}, but ${file.path} has records.`);
    throw new LedgerError('LEDGER_NOT_FOUND', `There is no ledger anchored at ${hex32(index)} yet.`);
  }
  const { written, value } = await readLedgerIndex(tpm, index);
  if (!file.exists()) {
    if (written) throw new LedgerError('LEDGER_TAMPERED', `The ledger file ${file.path} is missing, but the TPM's ledger index holds extends.`, { details: { kind: 'truncated', seq: 0 } });
    throw new LedgerError('LEDGER_NOT_FOUND', `There is no ledger at ${file.path}; check --state.`);
  }
  const plan = planRecovery(replay(file, { nv: value }), index, written);
  const recoverable = plan.tail !== undefined || plan.rollForward !== undefined || plan.needGenesis;
  return {
    path: file.path, index, count: plan.replay.count, head: plan.replay.head, nv: value.toString('hex'),
    status: recoverable ? 'recoverable' : 'consistent', tail: plan.tail, rollForward: plan.rollForward?.seq,
  };
}

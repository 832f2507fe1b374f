// Locating a replay mismatch: which PCRs differ (when the device's claimed values are
// authenticated by the quote), and which single inserted or reordered event explains it (found by
// trying each edit within a bounded budget). A removed event cannot be named: its digest is in
// nothing the verifier holds; its PCR can.
import { TPM_ALG } from '../constants.ts';
import { QuoteError, pcrDigest, type QuotePCRValue } from '../quote.ts';
import { EventLogError } from './errors.ts';
import { digest as hashOf, extend, hashName, initialPCR, bankLabel } from './hash.ts';
import type { MatchContext, Mode, QuotedPCRs } from './match.ts';
import { imaExtends, startupLocality } from './replay.ts';
import { key } from './state.ts';
import { EV, eventDigest, eventTypeName } from './tcg.ts';

export interface EventRef {
  source: 'tcg' | 'ima';
  /** TCG: the event's seq; IMA: the entry's index. */
  index: number;
  pcr: number;
  /** TCG: the event type; IMA: the file name (when decoded). */
  what: string;
}

export type MismatchDiagnosis =
  | { kind: 'inserted'; pcr: number; event: EventRef }
  | { kind: 'reordered'; pcr: number; events: [EventRef, EventRef] }
  | { kind: 'missing-or-altered'; pcrs: number[]; events: EventRef[]; suspects: EventRef[] }
  | { kind: 'unlocated'; suspects: EventRef[] };

interface Item { ref: EventRef; ext: Map<number, Buffer | undefined> }

/** Extend operations spent trying edits before giving up on locating (well under a second):
 * every single deletion and swap in a boot log's PCRs, every deletion among 200 IMA entries. */
const SEARCH_BUDGET = 100_000;

function itemsByPCR(ctx: MatchContext, banks: number[], mode: Mode): Map<number, Item[]> {
  const by = new Map<number, Item[]>();
  const add = (pcr: number, it: Item) => { let l = by.get(pcr); if (!l) by.set(pcr, l = []); l.push(it); };
  for (const e of ctx.tcg?.events ?? []) {
    if (e.type === EV.NO_ACTION) continue;
    add(e.pcr, { ref: { source: 'tcg', index: e.seq, pcr: e.pcr, what: eventTypeName(e.type) }, ext: new Map(banks.map((b) => [b, eventDigest(e, b)])) });
  }
  for (const e of ctx.ima?.entries ?? []) {
    const ext = new Map<number, Buffer | undefined>();
    for (const b of banks) {
      const v = imaExtends(e, b, mode === 'sha1-padded');
      const x = mode === 'sha1-padded' && b !== TPM_ALG.SHA1 ? v.padded : v.bank;
      ext.set(b, x && Buffer.from(x));
    }
    add(e.pcr, { ref: { source: 'ima', index: e.index, pcr: e.pcr, what: e.fields?.name ?? e.templateName }, ext });
  }
  return by;
}

function suspectsOf(ctx: MatchContext, pcrs: Set<number> | undefined): EventRef[] {
  const out: EventRef[] = [];
  for (const e of ctx.tcg?.events ?? []) {
    if (pcrs && !pcrs.has(e.pcr)) continue;
    const dataHashed = e.type === EV.SEPARATOR || e.type === EV.EFI_ACTION || e.type === EV.EFI_VARIABLE_DRIVER_CONFIG;
    if (dataHashed && e.digests.some((x) => hashName(x.alg) && !hashOf(x.alg, e.data).equals(x.digest))) out.push({ source: 'tcg', index: e.seq, pcr: e.pcr, what: eventTypeName(e.type) });
  }
  for (const e of ctx.ima?.entries ?? []) {
    if (pcrs && !pcrs.has(e.pcr)) continue;
    if (e.templateHashValid === false) out.push({ source: 'ima', index: e.index, pcr: e.pcr, what: e.fields?.name ?? e.templateName });
  }
  return out;
}

/** The error for a replay that matches no rule: differing PCRs and, where possible, the event. */
export function mismatch(quoted: QuotedPCRs, ctx: MatchContext, modes: Mode[], valuesOf: (mode: Mode) => QuotePCRValue[], stateBanks: readonly number[]): EventLogError {
  const target = Buffer.from(quoted.pcrDigest);
  // The device's values count only if the quote vouches for them.
  let claimed: Map<number, Buffer> | undefined;
  if (ctx.claimed) {
    try {
      if (pcrDigest(quoted.hashAlg, quoted.selection, ctx.claimed).equals(target)) claimed = new Map(ctx.claimed.map((v) => [key(v.hash, v.pcr), Buffer.from(v.digest)]));
    } catch (e) {
      if (!(e instanceof QuoteError)) throw e;
    }
  }
  const banksQuoted = [...new Set(quoted.selection.map((s) => s.hash))].filter((b) => stateBanks.includes(b));
  let best: { diag: MismatchDiagnosis; differing: string[] } | undefined;
  const budget = { left: SEARCH_BUDGET };
  for (const mode of modes) {
    const values = valuesOf(mode);
    const current = new Map(values.map((v) => [key(v.hash, v.pcr), Buffer.from(v.digest)]));
    const differing = claimed ? [...current].filter(([k, v]) => !claimed.get(k)?.equals(v)).map(([k]) => k) : undefined;
    const diffPCRs = differing ? new Set(differing.map((k) => k % 32)) : undefined;
    const located = locate(quoted, ctx, mode, current, claimed, diffPCRs, banksQuoted, budget);
    const labels = (differing ?? []).map((k) => `${bankLabel(Math.floor(k / 32))}:${k % 32}`);
    if (located) return report(located, labels, mode);
    const items = itemsByPCR(ctx, banksQuoted, mode);
    const pcrs = diffPCRs ? [...diffPCRs].sort((a, b) => a - b) : [];
    const diag: MismatchDiagnosis = diffPCRs
      ? { kind: 'missing-or-altered', pcrs, events: pcrs.flatMap((p) => (items.get(p) ?? []).map((i) => i.ref)), suspects: suspectsOf(ctx, diffPCRs) }
      : { kind: 'unlocated', suspects: suspectsOf(ctx, undefined) };
    if (!best || (differing && differing.length < best.differing.length)) best = { diag, differing: labels };
  }
  return report(best!.diag, best!.differing, undefined);
}

function describe(r: EventRef): string {
  return r.source === 'tcg' ? `event ${r.index} (${r.what})` : `IMA entry ${r.index} (${r.what})`;
}

function report(diag: MismatchDiagnosis, differing: string[], mode: Mode): EventLogError {
  const pcrText = differing.length ? ` PCR${differing.length > 1 ? 's' : ''} ${differing.join(', ')} differ.` : '';
  let why: string;
  switch (diag.kind) {
    case 'inserted': why = `${describe(diag.event)} in PCR ${diag.pcr} was never extended into the TPM: it was inserted into the log.`; break;
    case 'reordered': why = `${describe(diag.events[0])} and ${describe(diag.events[1])} in PCR ${diag.pcr} are in the wrong order.`; break;
    case 'missing-or-altered': why = `No single inserted or reordered event explains it: an event of PCR ${diag.pcrs.join(', ')} is missing or altered${diag.suspects.length ? ` (its data does not match its digest: ${diag.suspects.slice(0, 3).map(describe).join(', ')})` : ''}.`; break;
    default: why = `The differing PCR is not known (give the device's PCR values with the quote to name it)${diag.suspects.length ? `; events whose data does not match their digest: ${diag.suspects.slice(0, 3).map(describe).join(', ')}` : ''}.`;
  }
  return new EventLogError('EVENTLOG_REPLAY_MISMATCH', `The event logs do not replay to the PCR values the TPM quoted.${pcrText} ${why}`, { details: { differing, diagnosis: diag, ...(mode ? { imaMode: mode } : {}) } });
}

function locate(quoted: QuotedPCRs, ctx: MatchContext, mode: Mode, current: Map<number, Buffer>, claimed: Map<number, Buffer> | undefined,
  diffPCRs: Set<number> | undefined, banks: number[], budget: { left: number }): MismatchDiagnosis | undefined {
  if (!ctx.tcg && !ctx.ima) return undefined;
  const items = itemsByPCR(ctx, banks, mode);
  const start = (b: number, pcr: number): Buffer | undefined => {
    if (ctx.tcg) {
      const loc = ctx.tcg.events.map(startupLocality).find((x) => x !== undefined) ?? 0;
      return initialPCR(b, pcr, loc);
    }
    return ctx.ima!.before.value(b, pcr, mode);
  };
  for (const [pcr, list] of items) {
    if (diffPCRs && !diffPCRs.has(pcr)) continue;
    const pb = banks.filter((b) => current.has(key(b, pcr)));
    if (pb.length === 0 || list.length === 0) continue;
    const starts = pb.map((b) => start(b, pcr));
    if (starts.some((s) => !s) || list.some((it) => pb.some((b) => !it.ext.get(b)))) continue;
    // prefix[j][i]: bank j's value after the first i items.
    const prefix = pb.map((b, j) => {
      const p = [starts[j]!];
      for (const it of list) p.push(extend(b, p[p.length - 1]!, it.ext.get(b)!));
      return p;
    });
    const matches = (order: number[], from: number): boolean => {
      const vals = pb.map((b, j) => {
        let v = prefix[j]![from]!;
        for (const i of order) v = extend(b, v, list[i]!.ext.get(b)!);
        budget.left -= order.length;
        return v;
      });
      if (claimed) return pb.every((b, j) => claimed.get(key(b, pcr))?.equals(vals[j]!));
      const trial = new Map(current);
      pb.forEach((b, j) => trial.set(key(b, pcr), vals[j]!));
      const values = [...trial].map(([k, v]) => ({ hash: Math.floor(k / 32), pcr: k % 32, digest: v }));
      return pcrDigest(quoted.hashAlg, quoted.selection, values).equals(Buffer.from(quoted.pcrDigest));
    };
    const n = list.length;
    const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
    for (let i = 0; i < n && budget.left > 0; i++) {
      if (matches(range(i + 1, n), i)) return { kind: 'inserted', pcr, event: list[i]!.ref };
    }
    for (let gap = 1; gap < n && budget.left > 0; gap++) {
      for (let i = 0; i + gap < n && budget.left > 0; i++) {
        const j = i + gap;
        if (matches([j, ...range(i + 1, j), i, ...range(j + 1, n)], i)) return { kind: 'reordered', pcr, events: [list[i]!.ref, list[j]!.ref] };
      }
    }
  }
  return undefined;
}

// Replay: fold a log's digests into PCR values and compare them with the PCR digest INSIDE a
// signed quote (never with PCR values read separately; those only help locate a mismatch, and
// only once their own digest equals the quote's).
//
// IMA extends every bank: the SHA-1 bank with the SHA-1 template hash; other banks with the
// bank's hash of the template data on newer kernels, or with the SHA-1 template hash zero-padded
// on older ones. Both are tracked until a quote shows which one the kernel used. Violations are
// logged with a zero template hash and extended as all ones.
import { TPM_ALG } from '../constants.ts';
import { QuoteError, pcrDigest, verifyQuote, parseAttest, parseSignature, type QuotePCRValue, type VerifyQuoteInput, type VerifiedQuote } from '../quote.ts';
import { selectedPCRs, type TPMLPCRSelection, type TPMSQuoteInfo, type TPMTSignature } from '../types.ts';
import { EventLogError } from './errors.ts';
import { EBS_FAILURE, EBS_INVOCATION, EBS_SUCCESS } from './efi.ts';
import { digest as hashOf, extend, hashName, initialPCR, knownDigestSize, bankLabel } from './hash.ts';
import type { IMAEntry } from './ima.ts';
import { PCRState, cloneData, flushPadded, fromData, key, keyAlg, keyPCR, stateData, type IMAMode, type StateData } from './state.ts';
import { EV, eventDigest, eventTypeName, type TCGEvent, type TCGLog } from './tcg.ts';

const STARTUP_LOCALITY = Buffer.from('StartupLocality\0', 'latin1');

function startupLocality(e: TCGEvent): number | undefined {
  return e.type === EV.NO_ACTION && e.pcr === 0 && e.data.length === 17 && e.data.subarray(0, 16).equals(STARTUP_LOCALITY) ? e.data[16]! : undefined;
}

function checkBanks(banks: readonly number[]): void {
  for (const b of banks) if (!hashName(b)) throw new EventLogError('EVENTLOG_UNSUPPORTED', `Bank ${bankLabel(b)} is not one we can compute.`);
}

// ------------------------------------------------------------------------------------------------
// Measured boot

/**
 * Replays a measured-boot log into a fresh PCRState over `banks` (default: the log's banks we can
 * hash). EV_NO_ACTION events extend nothing; a StartupLocality event sets PCR 0's reset value,
 * and an H-CRTM event before any other PCR 0 event resets it to locality 4.
 * A bank an event has no digest for leaves that PCR unknown in that bank.
 */
export function replayTCG(log: TCGLog, opts: { banks?: readonly number[] } = {}): PCRState {
  const banks = opts.banks ? [...new Set(opts.banks)] : log.algorithms.map((a) => a.alg).filter((a) => hashName(a));
  if (banks.length === 0) throw new EventLogError('EVENTLOG_UNSUPPORTED', 'The event log has no bank we can compute (SHA-1, SHA-256, SHA-384, SHA-512, SM3).');
  checkBanks(banks);
  const d = stateData(PCRState.create(banks));
  let pcr0Extended = false;
  for (const e of log.events) {
    if (e.type === EV.NO_ACTION) {
      const loc = startupLocality(e);
      if (loc !== undefined) {
        if (pcr0Extended) throw new EventLogError('EVENTLOG_MALFORMED', `Event ${e.seq} sets the startup locality after PCR 0 was extended.`, { details: { seq: e.seq } });
        for (const b of banks) d.values.set(key(b, 0), initialPCR(b, 0, loc));
      }
      continue;
    }
    if (e.type === EV.EFI_HCRTM_EVENT && e.pcr === 0 && !pcr0Extended) {
      // An H-CRTM (_TPM_Hash_Start) resets PCR 0 to locality 4 before its digest is extended
      // (TPM 2.0 Part 1, 34.3).
      for (const b of banks) d.values.set(key(b, 0), initialPCR(b, 0, 4));
    }
    if (e.pcr === 0) pcr0Extended = true;
    for (const b of banks) {
      const k = key(b, e.pcr);
      if (d.unknown.has(k)) continue;
      const dg = eventDigest(e, b);
      if (!dg) {
        d.unknown.add(k);
        d.values.delete(k);
        continue;
      }
      d.values.set(k, extend(b, d.values.get(k) ?? initialPCR(b, e.pcr), dg));
    }
  }
  d.tcgEvents = log.events.length;
  return fromData(d);
}

// ------------------------------------------------------------------------------------------------
// IMA

export interface IMAReplay {
  state: PCRState;
  /** Entries of a re-sent log that were already appraised (checked against the saved chain). */
  skipped: number;
  /** The entries appraised now. */
  appraised: IMAEntry[];
  /** Indexes of appraised entries whose data is not trusted (template hash wrong or uncheckable). */
  untrusted: number[];
  /** Indexes of violation entries. */
  violations: number[];
}

const ONES = new Map<number, Buffer>();
const PADDED = new Map<number, Buffer>();

/** What IMA extends into bank `b` for `e` under each rule; undefined when it cannot be computed.
 * `padded` and the all-ones value are shared scratch: use them before the next call. */
function imaExtends(e: IMAEntry, b: number, wantPadded: boolean): { bank: Buffer | undefined; padded: Buffer | undefined } {
  const size = knownDigestSize(b)!;
  if (e.violation) {
    let ff = ONES.get(size);
    if (!ff) ONES.set(size, ff = Buffer.alloc(size, 0xff));
    return { bank: ff, padded: ff };
  }
  const sha1 = e.templateHashAlg === TPM_ALG.SHA1 ? e.templateHash : e.hashInput ? hashOf(TPM_ALG.SHA1, e.hashInput) : undefined;
  if (b === TPM_ALG.SHA1) return { bank: sha1, padded: sha1 };
  const bank = e.templateHashAlg === b ? e.templateHash : e.hashInput ? hashOf(b, e.hashInput) : undefined;
  let padded: Buffer | undefined;
  if (sha1 && wantPadded) {
    padded = PADDED.get(size);
    if (!padded) PADDED.set(size, padded = Buffer.alloc(size));
    padded.fill(0);
    sha1.copy(padded);
  }
  return { bank, padded };
}

function apply(values: Map<number, Buffer>, unknown: Set<number>, k: number, b: number, pcr: number, v: Buffer | undefined): void {
  if (unknown.has(k)) return;
  if (!v) {
    unknown.add(k);
    values.delete(k);
    return;
  }
  values.set(k, extend(b, values.get(k) ?? initialPCR(b, pcr), v));
}

/** The bank a re-sent prefix is checked in: the strongest one tracked. */
const STRENGTH = [TPM_ALG.SHA512, TPM_ALG.SHA3_512, TPM_ALG.SHA384, TPM_ALG.SHA3_384, TPM_ALG.SHA256, TPM_ALG.SHA3_256, TPM_ALG.SM3_256, TPM_ALG.SHA1];
function strongest(banks: readonly number[]): number {
  return STRENGTH.find((b) => banks.includes(b)) ?? banks[0]!;
}

function extendIMA(d: StateData, e: IMAEntry): void {
  let pendingDone = false;
  for (const b of d.banks) {
    const k = key(b, e.pcr);
    if (!d.imaBase.has(k) && !d.unknown.has(k)) d.imaBase.set(k, d.values.get(k) ?? initialPCR(b, e.pcr));
    if (b === TPM_ALG.SHA1 || d.imaMode === 'bank-hash') {
      apply(d.values, d.unknown, k, b, e.pcr, imaExtends(e, b, false).bank);
    } else if (d.imaMode === 'sha1-padded') {
      apply(d.values, d.unknown, k, b, e.pcr, imaExtends(e, b, true).padded);
    } else {
      if (!d.padded.has(k) && !d.paddedUnknown.has(k)) {
        if (d.unknown.has(k)) d.paddedUnknown.add(k);
        else d.padded.set(k, d.values.get(k) ?? initialPCR(b, e.pcr));
      }
      if (!pendingDone) {
        // The older rule's extends are recorded once per entry, folded only if asked for.
        pendingDone = true;
        const sha1 = e.violation ? undefined : e.templateHashAlg === TPM_ALG.SHA1 ? e.templateHash : e.hashInput ? hashOf(TPM_ALG.SHA1, e.hashInput) : undefined;
        if (!e.violation && !sha1) {
          for (const bb of d.banks) if (bb !== TPM_ALG.SHA1) { d.paddedUnknown.add(key(bb, e.pcr)); d.padded.delete(key(bb, e.pcr)); }
        } else {
          const rec = Buffer.alloc(21);
          if (e.violation) rec[0] = 1;
          else sha1!.copy(rec, 1);
          let l = d.paddedPending.get(e.pcr);
          if (!l) d.paddedPending.set(e.pcr, l = []);
          l.push(rec);
        }
      }
      apply(d.values, d.unknown, k, b, e.pcr, imaExtends(e, b, false).bank);
    }
  }
  d.imaEntries++;
}

/** Replays `prefix` from the saved pre-IMA values in the strongest bank and compares the result
 * with the state's: a re-sent log must begin with exactly the entries appraised before. */
function checkPrefix(d: StateData, prefix: readonly IMAEntry[]): boolean {
  const b = strongest(d.banks);
  const rule: IMAMode = d.imaMode ?? 'bank-hash';
  const vals = new Map<number, Buffer>();
  for (const [k, v] of d.imaBase) if (keyAlg(k) === b) vals.set(k, v);
  for (const e of prefix) {
    const k = key(b, e.pcr);
    const cur = vals.get(k);
    const x = imaExtends(e, b, rule === 'sha1-padded');
    const v = b === TPM_ALG.SHA1 || rule === 'bank-hash' ? x.bank : x.padded;
    if (!cur || !v) return false;
    vals.set(k, extend(b, cur, v));
  }
  for (const [k, v] of vals) {
    if (d.unknown.has(k) || !(d.values.get(k) ?? initialPCR(b, keyPCR(k))).equals(v)) return false;
  }
  return true;
}

/**
 * Appraises IMA entries on top of `state` (from replayTCG, PCRState.create, or a saved state)
 * and returns the new state; `state` is not changed. Entries must continue where the state
 * stopped (index = state.imaEntries), or be the whole log again from index 0: the first
 * state.imaEntries entries are then replayed from the saved pre-IMA values and must reach the
 * saved ones, and are not extended again (a re-sent log must not be replayed twice). Anything
 * else is EVENTLOG_PREFIX_MISMATCH.
 */
export function replayIMA(state: PCRState, entries: readonly IMAEntry[]): IMAReplay {
  const d = cloneData(stateData(state));
  const n = d.imaEntries;
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index !== entries[0]!.index + i) throw new EventLogError('EVENTLOG_MALFORMED', `IMA entries are not consecutive at index ${entries[i]!.index}.`);
  }
  let start = 0;
  if (entries.length > 0 && entries[0]!.index !== n) {
    if (entries[0]!.index !== 0 || n === 0) {
      throw new EventLogError('EVENTLOG_PREFIX_MISMATCH', `The IMA entries start at index ${entries[0]!.index}, but ${n} entries were appraised before: give the entries from index ${n} on, or the whole log.`, { details: { expected: n, got: entries[0]!.index } });
    }
    if (entries.length < n) throw new EventLogError('EVENTLOG_PREFIX_MISMATCH', `The IMA log has ${entries.length} entries, fewer than the ${n} appraised before: it is not the same log (or the machine rebooted; start again from its boot log).`, { details: { expected: n, got: entries.length } });
    if (!checkPrefix(d, entries.slice(0, n))) throw new EventLogError('EVENTLOG_PREFIX_MISMATCH', `The first ${n} entries of the IMA log differ from the ones appraised before: entries were changed, removed or reordered.`, { details: { appraised: n } });
    start = n;
  }
  const appraised = entries.slice(start);
  const untrusted: number[] = [];
  const violations: number[] = [];
  for (const e of appraised) {
    if (e.pcr > 31) throw new EventLogError('EVENTLOG_MALFORMED', `IMA entry ${e.index} names PCR ${e.pcr}.`);
    extendIMA(d, e);
    if (e.violation) violations.push(e.index);
    else if (!e.trusted) untrusted.push(e.index);
  }
  return { state: fromData(d), skipped: start, appraised, untrusted, violations };
}

// ------------------------------------------------------------------------------------------------
// Against a quote

/** The part of a verified quote replay is compared with. */
export interface QuotedPCRs {
  selection: TPMLPCRSelection;
  pcrDigest: Uint8Array;
  /** TPM_ALG of the quote signature's hash (the hash of pcrDigest). */
  hashAlg: number;
}

export function quotedPCRs(v: VerifiedQuote): QuotedPCRs {
  return { selection: v.selection, pcrDigest: v.quote.pcrDigest, hashAlg: v.hashAlg };
}

export interface MatchContext {
  /** The boot log the state was replayed from: enables the ExitBootServices workaround and
   * locating a mismatching event. */
  tcg?: TCGLog;
  /** IMA entries appraised in this round, and the state before them (for locating). */
  ima?: { entries: readonly IMAEntry[]; before: PCRState };
  /** PCR values the device reported with the quote. Used only to say which PCRs differ, and only
   * when their digest equals the quote's. */
  claimed?: readonly QuotePCRValue[];
}

export interface QuoteMatch {
  /** The state with the IMA rule decided (when the quote showed it) and workarounds applied. */
  state: PCRState;
  imaMode: IMAMode | undefined;
  /** Workarounds needed to match, e.g. 'missing-exit-boot-services: …'. */
  quirks: string[];
  /** The replayed values of the quoted PCRs. */
  values: QuotePCRValue[];
}

type Mode = IMAMode | undefined;

function selectionKeys(sel: TPMLPCRSelection): Array<{ alg: number; pcr: number }> {
  const out: Array<{ alg: number; pcr: number }> = [];
  for (const s of sel) for (const pcr of selectedPCRs(s)) out.push({ alg: s.hash, pcr });
  return out;
}

function valuesFor(d: StateData, sel: TPMLPCRSelection, mode: Mode): { values: QuotePCRValue[]; missing: string[] } {
  if (mode === 'sha1-padded') flushPadded(d);
  const values: QuotePCRValue[] = [];
  const missing: string[] = [];
  for (const { alg, pcr } of selectionKeys(sel)) {
    const k = key(alg, pcr);
    if (!d.banks.includes(alg) || pcr > 31) {
      missing.push(`${bankLabel(alg)}:${pcr}`);
      continue;
    }
    const usePadded = mode === 'sha1-padded' && d.imaMode === undefined && (d.padded.has(k) || d.paddedUnknown.has(k));
    const unknown = usePadded ? d.paddedUnknown.has(k) : d.unknown.has(k);
    if (unknown) {
      missing.push(`${bankLabel(alg)}:${pcr}`);
      continue;
    }
    values.push({ hash: alg, pcr, digest: (usePadded ? d.padded.get(k) : d.values.get(k)) ?? initialPCR(alg, pcr) });
  }
  return { values, missing };
}

function resolve(d: StateData, mode: Mode): StateData {
  if (mode === 'sha1-padded') flushPadded(d);
  const out = cloneData(d);
  if (mode === undefined || out.imaMode !== undefined) return out;
  if (mode === 'sha1-padded') {
    for (const [k, v] of out.padded) { out.values.set(k, v); out.unknown.delete(k); }
    for (const k of out.paddedUnknown) { out.values.delete(k); out.unknown.add(k); }
  }
  out.padded.clear();
  out.paddedUnknown.clear();
  out.paddedPending.clear();
  out.imaMode = mode;
  return out;
}

const EBS_VARIANTS: Array<{ id: string; actions: string[] }> = [
  { id: 'Invocation + Returned with Success', actions: [EBS_INVOCATION, EBS_SUCCESS] },
  { id: 'Invocation + Returned with Failure', actions: [EBS_INVOCATION, EBS_FAILURE] },
  { id: 'Invocation + Failure + Success', actions: [EBS_INVOCATION, EBS_FAILURE, EBS_SUCCESS] },
];

function hasEBS(log: TCGLog): boolean {
  return log.events.some((e) => e.pcr === 5 && e.type === EV.EFI_ACTION && e.data.toString('latin1').startsWith('Exit Boot Services'));
}

/**
 * Compares the replayed state with a quote's PCR digest. A quoted PCR no log extends counts at its
 * reset value, so anything extended without being logged fails. Tries the IMA rules still open and, when
 * the boot log lacks ExitBootServices events and PCR 5 is quoted, the events such firmware
 * measures without logging. Throws EVENTLOG_BANK_MISSING when the logs cannot give a quoted PCR,
 * or EVENTLOG_REPLAY_MISMATCH naming, where it can, the PCRs and the event that differ.
 */
export function matchQuote(state: PCRState, quoted: QuotedPCRs, ctx: MatchContext = {}): QuoteMatch {
  const d = stateData(state);
  const target = Buffer.from(quoted.pcrDigest);
  const keys = selectionKeys(quoted.selection);
  // The IMA rule only matters when a quoted PCR differs between the two.
  const open = d.imaMode === undefined && keys.some(({ alg, pcr }) => d.padded.has(key(alg, pcr)) || d.paddedUnknown.has(key(alg, pcr)));
  const modes: Mode[] = open ? ['bank-hash', 'sha1-padded'] : [undefined];
  let missing: string[] = [];
  for (const mode of modes) {
    const v = valuesFor(d, quoted.selection, mode);
    if (v.missing.length) { missing = v.missing; continue; }
    if (pcrDigest(quoted.hashAlg, quoted.selection, v.values).equals(target)) {
      const s = resolve(d, mode);
      return { state: fromData(s), imaMode: s.imaMode, quirks: [...s.quirks], values: v.values };
    }
  }
  if (ctx.tcg && !hasEBS(ctx.tcg) && keys.some((x) => x.pcr === 5)) {
    for (const variant of EBS_VARIANTS) {
      for (const mode of modes) {
        const s = resolve(d, mode);
        for (const b of s.banks) {
          const k = key(b, 5);
          if (s.unknown.has(k)) continue;
          for (const a of variant.actions) s.values.set(k, extend(b, s.values.get(k) ?? initialPCR(b, 5), hashOf(b, Buffer.from(a, 'latin1'))));
        }
        const v = valuesFor(s, quoted.selection, undefined);
        if (!v.missing.length && pcrDigest(quoted.hashAlg, quoted.selection, v.values).equals(target)) {
          s.quirks.push(`missing-exit-boot-services: the TPM has ExitBootServices events (${variant.id}) that the log lacks`);
          return { state: fromData(s), imaMode: s.imaMode, quirks: [...s.quirks], values: v.values };
        }
      }
    }
  }
  if (missing.length && modes.every((m) => valuesFor(d, quoted.selection, m).missing.length)) {
    throw new EventLogError('EVENTLOG_BANK_MISSING', `The logs cannot give quoted PCR${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: a bank is missing from the log or from its events. Quote the banks the log carries.`, { details: { missing } });
  }
  throw mismatch(d, quoted, ctx, modes);
}

// ------------------------------------------------------------------------------------------------
// Locating a mismatch: which PCRs differ (when the device's claimed values are authenticated by
// the quote), and which single inserted or reordered event explains it (by trying each edit).

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

function mismatch(d: StateData, quoted: QuotedPCRs, ctx: MatchContext, modes: Mode[]): EventLogError {
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
  const banksQuoted = [...new Set(quoted.selection.map((s) => s.hash))].filter((b) => d.banks.includes(b));
  let best: { diag: MismatchDiagnosis; differing: string[] } | undefined;
  const budget = { left: SEARCH_BUDGET };
  for (const mode of modes) {
    const { values } = valuesFor(d, quoted.selection, mode);
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

// ------------------------------------------------------------------------------------------------
// One call for a verifier: the quote's signature, nonce and selection, then the logs against its
// PCR digest.

export interface VerifyEventLogsInput extends Omit<VerifyQuoteInput, 'pcrs' | 'selection'> {
  /** The measured-boot log (first appraisal of a boot). */
  tcg?: TCGLog;
  /** IMA entries (all, or those after `state.imaEntries`). */
  ima?: readonly IMAEntry[];
  /** The state a previous appraisal of this boot returned (instead of `tcg`). */
  state?: PCRState;
  /** PCR values the device reported (only to locate a mismatch). */
  claimed?: readonly QuotePCRValue[];
}

export interface VerifiedEventLogs {
  quote: VerifiedQuote;
  match: QuoteMatch;
  /** The state to keep for the next appraisal of this boot. */
  state: PCRState;
  ima: IMAReplay | undefined;
}

/**
 * Verifies a quote (QuoteError as verifyQuote) and that the logs replay to the PCR digest inside
 * it (EventLogError). Give `tcg` on the first appraisal of a boot, `state` on later ones.
 */
export function verifyEventLogs(input: VerifyEventLogsInput): VerifiedEventLogs {
  if (input.tcg && input.state) throw new EventLogError('EVENTLOG_STATE_INVALID', 'Give either the boot log (first appraisal of a boot) or the saved state (later ones), not both.');
  const attest = parseAttest(input.attest);
  const q = attest.attested as Partial<TPMSQuoteInfo>;
  const selection = q.pcrSelect ?? [];
  const quoteBanks = [...new Set(selection.map((s) => s.hash))].filter((b) => hashName(b));
  let base: PCRState;
  if (input.state) base = input.state;
  else if (input.tcg) base = replayTCG(input.tcg, { banks: [...new Set([...input.tcg.algorithms.map((a) => a.alg).filter((a) => hashName(a)), ...quoteBanks])] });
  else base = PCRState.create(quoteBanks.length ? quoteBanks : [TPM_ALG.SHA256]);
  const ima = input.ima ? replayIMA(base, input.ima) : undefined;
  const state = ima ? ima.state : base;
  // Signature, nonce, type and selection first: a placeholder for PCRs the logs cannot give
  // cannot make a forged quote pass, it only lets those checks run.
  const first = valuesFor(stateData(state), selection, undefined);
  const placeholder = first.values.concat(selectionKeys(selection).filter(({ alg, pcr }) => !first.values.some((v) => v.hash === alg && v.pcr === pcr)).map(({ alg, pcr }) => ({ hash: alg, pcr, digest: Buffer.alloc(knownDigestSize(alg) ?? 32) })));
  const { tcg: _t, ima: _i, state: _s, claimed: _c, ...quoteInput } = input;
  let verified: VerifiedQuote;
  try {
    verified = verifyQuote({ ...quoteInput, pcrs: placeholder });
  } catch (e) {
    if (!(e instanceof QuoteError) || e.code !== 'QUOTE_PCR_DIGEST_MISMATCH') throw e;
    const sig: TPMTSignature = input.signature instanceof Uint8Array ? parseSignature(input.signature) : input.signature;
    const hashAlg = (sig.signature as { hash: number }).hash;
    verified = { attest, quote: attest.attested as TPMSQuoteInfo, signature: sig, hashAlg, selection };
  }
  const ctx: MatchContext = {
    ...(input.tcg ? { tcg: input.tcg } : {}),
    ...(input.ima ? { ima: { entries: ima!.appraised, before: base } } : {}),
    ...(input.claimed ? { claimed: input.claimed } : {}),
  };
  const match = matchQuote(state, quotedPCRs(verified), ctx);
  return { quote: verified, match, state: match.state, ima };
}

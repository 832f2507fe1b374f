// Comparing replayed PCRs with the PCR digest INSIDE a signed quote (never with PCR values read
// separately: those only help locate a mismatch, and only once their own digest equals the
// quote's). Tries the IMA rules still open and the missing-ExitBootServices workaround.
import { pcrDigest, type QuotePCRValue, type VerifiedQuote } from '../quote.ts';
import { selectedPCRs, type TPMLPCRSelection } from '../types.ts';
import { EventLogError } from './errors.ts';
import { EBS_FAILURE, EBS_INVOCATION, EBS_SUCCESS } from './efi.ts';
import { digest as hashOf, extend, initialPCR, bankLabel } from './hash.ts';
import type { IMAEntry } from './ima.ts';
import { mismatch } from './locate.ts';
import { PCRState, cloneData, flushPadded, fromData, key, stateData, type IMAMode, type StateData } from './state.ts';
import { EV, type TCGLog } from './tcg.ts';

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

export type Mode = IMAMode | undefined;

export function selectionKeys(sel: TPMLPCRSelection): Array<{ alg: number; pcr: number }> {
  const out: Array<{ alg: number; pcr: number }> = [];
  for (const s of sel) for (const pcr of selectedPCRs(s)) out.push({ alg: s.hash, pcr });
  return out;
}

export function valuesFor(d: StateData, sel: TPMLPCRSelection, mode: Mode): { values: QuotePCRValue[]; missing: string[] } {
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
  throw mismatch(quoted, ctx, modes, (mode) => valuesFor(d, quoted.selection, mode).values, d.banks);
}

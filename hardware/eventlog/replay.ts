// Replay: fold a log's digests into PCR values (match.ts compares them with a quote).
//
// IMA extends every bank: the SHA-1 bank with the SHA-1 template hash; other banks with the
// bank's hash of the template data on newer kernels, or with the SHA-1 template hash zero-padded
// on older ones. Both are tracked until a quote shows which one the kernel used. Violations are
// logged with a zero template hash and extended as all ones.
import { TPM_ALG } from '../constants.ts';
import { EventLogError } from './errors.ts';
import { digest as hashOf, extend, hashName, initialPCR, knownDigestSize, bankLabel } from './hash.ts';
import type { IMAEntry } from './ima.ts';
import { PCRState, cloneData, fromData, key, keyAlg, keyPCR, stateData, type IMAMode, type StateData } from './state.ts';
import { EV, eventDigest, type TCGEvent, type TCGLog } from './tcg.ts';

const STARTUP_LOCALITY = Buffer.from('StartupLocality\0', 'latin1');

export function startupLocality(e: TCGEvent): number | undefined {
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
export function imaExtends(e: IMAEntry, b: number, wantPadded: boolean): { bank: Buffer | undefined; padded: Buffer | undefined } {
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

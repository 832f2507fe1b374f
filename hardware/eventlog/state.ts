// PCRState: replayed PCR values per bank, resumable. It holds what a verifier needs to appraise
// the next IMA entries without the earlier ones: the values, the IMA entry count, each IMA PCR's
// value before IMA (to check a re-sent log's prefix by replaying it), and, until a quote decides
// it, the IMA extend rule in force (see replay.ts). Serialized as small JSON (≤ 32 PCRs per bank).
import { TPM_ALG } from '../constants.ts';
import { EventLogError } from './errors.ts';
import { extend, hashName, initialPCR, knownDigestSize, bankLabel } from './hash.ts';

/** How the kernel extended non-SHA-1 banks: with the bank's hash of the template data (newer
 * kernels), or with the SHA-1 template hash zero-padded to the bank size (older kernels). */
export type IMAMode = 'bank-hash' | 'sha1-padded';

export interface StateData {
  banks: number[];
  /** Touched PCRs (key = alg * 32 + pcr); untouched ones have their reset value. */
  values: Map<number, Buffer>;
  /** Keys whose value the logs cannot give (a bank missing from an event). */
  unknown: Set<number>;
  /** While the IMA rule is undecided: non-SHA-1 IMA PCRs under 'sha1-padded'… */
  padded: Map<number, Buffer>;
  paddedUnknown: Set<number>;
  /** …plus, per PCR, the SHA-1 template hashes not yet folded into `padded` (21-byte records:
   * a violation flag and the hash). Folding waits until a value is asked for, so a quote that
   * shows the newer rule spares the older rule's hashing. */
  paddedPending: Map<number, Buffer[]>;
  /** Each IMA PCR's value before its first IMA entry: a re-sent log's prefix is replayed from it. */
  imaBase: Map<number, Buffer>;
  imaMode: IMAMode | undefined;
  tcgEvents: number;
  imaEntries: number;
  quirks: string[];
}

export const key = (alg: number, pcr: number): number => alg * 32 + pcr;
export const keyAlg = (k: number): number => Math.floor(k / 32);
export const keyPCR = (k: number): number => k % 32;

const DATA = new WeakMap<PCRState, StateData>();

/** Internal access for replay.ts; not exported from the folder. */
export function stateData(s: PCRState): StateData {
  return DATA.get(s)!;
}

export function fromData(d: StateData): PCRState {
  const s = new PCRState(INTERNAL);
  DATA.set(s, d);
  return s;
}

export function cloneData(d: StateData): StateData {
  return {
    ...d, banks: [...d.banks], values: new Map(d.values), unknown: new Set(d.unknown), padded: new Map(d.padded), paddedUnknown: new Set(d.paddedUnknown),
    paddedPending: new Map([...d.paddedPending].map(([p, l]) => [p, [...l]])), imaBase: new Map(d.imaBase), quirks: [...d.quirks],
  };
}

/** Folds the pending SHA-1 template hashes into the 'sha1-padded' values (see paddedPending). */
export function flushPadded(d: StateData): void {
  if (d.paddedPending.size === 0) return;
  for (const [pcr, chunks] of d.paddedPending) {
    const recs = Buffer.concat(chunks);
    for (const b of d.banks) {
      if (b === TPM_ALG.SHA1) continue;
      const k = key(b, pcr);
      if (d.paddedUnknown.has(k) || !d.padded.has(k)) continue;
      const size = knownDigestSize(b)!;
      const ones = Buffer.alloc(size, 0xff);
      const pad = Buffer.alloc(size);
      let v = d.padded.get(k)!;
      for (let at = 0; at < recs.length; at += 21) {
        if (recs[at] === 1) v = extend(b, v, ones);
        else {
          recs.copy(pad, 0, at + 1, at + 21);
          v = extend(b, v, pad);
        }
      }
      d.padded.set(k, v);
    }
  }
  d.paddedPending.clear();
}

const INTERNAL = Symbol('PCRState');
const MAX_STATE_JSON = 256 * 1024;
const FORMAT = 'tollgate-pcr-state';

function invalid(why: string): EventLogError {
  return new EventLogError('EVENTLOG_STATE_INVALID', `The saved PCR state cannot be used: ${why}. Start again from the full logs.`);
}

export class PCRState {
  constructor(token: symbol) {
    if (token !== INTERNAL) throw new TypeError('Use PCRState.create or PCRState.deserialize.');
  }

  /** An empty state (every PCR at its reset value) over `banks` (TPM_ALG ids we can hash). */
  static create(banks: readonly number[]): PCRState {
    const b = [...new Set(banks)];
    if (b.length === 0) throw invalid('it tracks no bank');
    for (const a of b) if (!hashName(a)) throw new EventLogError('EVENTLOG_UNSUPPORTED', `Bank ${bankLabel(a)} is not one we can compute.`);
    return fromData({ banks: b, values: new Map(), unknown: new Set(), padded: new Map(), paddedUnknown: new Set(), paddedPending: new Map(), imaBase: new Map(), imaMode: undefined, tcgEvents: 0, imaEntries: 0, quirks: [] });
  }

  get banks(): number[] {
    return [...stateData(this).banks];
  }

  /** The IMA extend rule a quote has shown to be in force, if one has. */
  get imaMode(): IMAMode | undefined {
    return stateData(this).imaMode;
  }

  /** IMA entries appraised so far: the next one to give is this index. */
  get imaEntries(): number {
    return stateData(this).imaEntries;
  }

  get tcgEvents(): number {
    return stateData(this).tcgEvents;
  }

  /** Workarounds a quote needed (e.g. missing ExitBootServices events). */
  get quirks(): string[] {
    return [...stateData(this).quirks];
  }

  /**
   * A PCR's replayed value; undefined when the logs cannot give it (or the bank is not tracked).
   * `mode` picks the IMA rule while it is undecided (default: the decided one, else 'bank-hash').
   */
  value(alg: number, pcr: number, mode?: IMAMode): Buffer | undefined {
    const d = stateData(this);
    if (!d.banks.includes(alg) || !Number.isInteger(pcr) || pcr < 0 || pcr > 31) return undefined;
    const k = key(alg, pcr);
    if (mode === 'sha1-padded' && d.imaMode === undefined && (d.padded.has(k) || d.paddedUnknown.has(k))) {
      flushPadded(d);
      return d.paddedUnknown.has(k) ? undefined : Buffer.from(d.padded.get(k)!);
    }
    if (d.unknown.has(k)) return undefined;
    return Buffer.from(d.values.get(k) ?? initialPCR(alg, pcr));
  }

  serialize(): string {
    const d = stateData(this);
    flushPadded(d);
    const hexMap = (m: Map<number, Buffer>) => Object.fromEntries([...m].sort((a, b) => a[0] - b[0]).map(([k, v]) => [`${keyAlg(k)}:${keyPCR(k)}`, v.toString('hex')]));
    const keys = (s: Set<number>) => [...s].sort((a, b) => a - b).map((k) => `${keyAlg(k)}:${keyPCR(k)}`);
    return JSON.stringify({
      format: FORMAT, version: 1, banks: d.banks, values: hexMap(d.values), unknown: keys(d.unknown), padded: hexMap(d.padded), paddedUnknown: keys(d.paddedUnknown),
      imaBase: hexMap(d.imaBase), imaMode: d.imaMode ?? null, tcgEvents: d.tcgEvents, imaEntries: d.imaEntries, quirks: d.quirks,
    });
  }

  /** Loads serialize()'s output; anything else is EVENTLOG_STATE_INVALID. */
  static deserialize(text: string): PCRState {
    if (typeof text !== 'string' || text.length > MAX_STATE_JSON) throw invalid('it is not a string of at most 256 KiB');
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw invalid('it is not JSON');
    }
    if (!j || typeof j !== 'object' || j.format !== FORMAT || j.version !== 1) throw invalid(`it is not a ${FORMAT} version 1 document`);
    const banks = j.banks;
    if (!Array.isArray(banks) || banks.length === 0 || banks.length > 16 || !banks.every((b) => Number.isInteger(b) && hashName(b as number)) || new Set(banks).size !== banks.length) throw invalid('its banks are not valid');
    const parseKey = (s: string): number => {
      const m = /^(\d{1,5}):(\d{1,2})$/.exec(s);
      if (!m || !banks.includes(Number(m[1])) || Number(m[2]) > 31) throw invalid(`"${s.slice(0, 20)}" is not a bank:PCR of this state`);
      return key(Number(m[1]), Number(m[2]));
    };
    const map = (v: unknown): Map<number, Buffer> => {
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalid('a value map is not an object');
      const m = new Map<number, Buffer>();
      for (const [k, h] of Object.entries(v)) {
        const kk = parseKey(k);
        if (typeof h !== 'string' || !/^([0-9a-f]{2})+$/.test(h) || h.length / 2 !== knownDigestSize(keyAlg(kk))) throw invalid(`the value of ${k} is not a digest of its bank`);
        m.set(kk, Buffer.from(h, 'hex'));
      }
      return m;
    };
    const set = (v: unknown): Set<number> => {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid('a key list is not a list of strings');
      return new Set(v.map((x) => parseKey(x as string)));
    };
    const count = (v: unknown, what: string): number => {
      if (!Number.isSafeInteger(v) || (v as number) < 0) throw invalid(`${what} is not a count`);
      return v as number;
    };
    if (j.imaMode !== null && j.imaMode !== 'bank-hash' && j.imaMode !== 'sha1-padded') throw invalid('imaMode is not bank-hash, sha1-padded or null');
    if (!Array.isArray(j.quirks) || j.quirks.length > 16 || !j.quirks.every((q) => typeof q === 'string' && q.length < 200)) throw invalid('quirks is not a short list of strings');
    return fromData({
      banks: banks as number[], values: map(j.values), unknown: set(j.unknown), padded: map(j.padded), paddedUnknown: set(j.paddedUnknown), paddedPending: new Map(), imaBase: map(j.imaBase),
      imaMode: (j.imaMode ?? undefined) as IMAMode | undefined, tcgEvents: count(j.tcgEvents, 'tcgEvents'), imaEntries: count(j.imaEntries, 'imaEntries'),
      quirks: j.quirks as string[],
    });
  }
}

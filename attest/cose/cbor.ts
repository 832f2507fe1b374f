// CBOR (RFC 8949) through cbor-x, made safe for hostile input and deterministic for what we sign.
//
// Decoding: a linear pre-scan checks every byte BEFORE cbor-x builds a value, so cbor-x only ever
// sees input inside tollgate's CBOR profile:
//   - at most `maxBytes` of input, `maxDepth` nested arrays/maps, `maxItems` data items, and no
//     declared length beyond the bytes that remain (a 9-byte header cannot ask for 2^64 elements);
//   - definite lengths only (no indefinite-length items, no stray "break");
//   - no tags, except one outermost tag the caller names (18 for COSE_Sign1), which the scan
//     strips: cbor-x's tag extensions (records, structured clone, generic objects…) never run;
//   - integers, byte and text strings (valid UTF-8), arrays, maps, false/true/null; no floats,
//     no undefined, no other simple values;
//   - map keys are integers (in the safe range) or text strings, without duplicates.
// Each refusal is a CborError with a stable code. The `cbor-x/decode` entry point is cbor-x's
// pure-JS build: it never tries to load the optional native helper (cbor-extract), so the
// sources under Node and the single binary decode with the same code.
//
// Encoding: RFC 8949 §4.2.1 core deterministic encoding — shortest-form integers and lengths,
// definite lengths, map keys sorted by the bytewise order of their encodings — so the same
// value always gives the same bytes (signatures and the EAT claims digest depend on it).
import { isUtf8 } from 'node:buffer';
import { Decoder, Encoder } from 'cbor-x/decode';
import { CborError } from './errors.ts';

export type CborKey = number | string;
export type CborMap = Map<CborKey, CborValue>;
export type CborValue = number | bigint | string | boolean | null | Uint8Array | CborValue[] | CborMap;

export interface CborLimits {
  /** Largest accepted input in bytes. */
  maxBytes?: number;
  /** Deepest accepted nesting of arrays and maps. */
  maxDepth?: number;
  /** Most data items (every integer, string, array, map, key and value counts once). */
  maxItems?: number;
}

export interface DecodeOptions extends CborLimits {
  /** Tags accepted on the outermost item (at most one tag, there only). Default: none. */
  tags?: readonly number[];
  /** Also refuse anything not in deterministic encoding (non-shortest heads, unsorted keys). */
  deterministic?: boolean;
}

export const DEFAULT_CBOR_LIMITS: Readonly<Required<CborLimits>> = { maxBytes: 16 * 1024 * 1024, maxDepth: 16, maxItems: 100_000 };

/** Where cbor-x stops being exact for 64-bit integers as JS numbers. */
const TWO_32 = 0x1_0000_0000;

// ------------------------------------------------------------------------------------------------
// The pre-scan

const MAJOR_NAME = ['unsigned integer', 'negative integer', 'byte string', 'text string', 'array', 'map', 'tag', 'simple value'];

interface Head {
  major: number;
  /** The argument when it fits a safe integer; Infinity when it does not (then `big` holds it). */
  arg: number;
  big?: bigint;
  indefinite: boolean;
}

class Scanner {
  pos = 0;
  items = 0;
  private readonly b: Uint8Array;
  private readonly lim: Required<CborLimits>;
  private readonly det: boolean;

  constructor(b: Uint8Array, lim: Required<CborLimits>, det: boolean) {
    this.b = b;
    this.lim = lim;
    this.det = det;
  }

  private fail(code: 'CBOR_TRUNCATED' | 'CBOR_MALFORMED' | 'CBOR_NOT_DETERMINISTIC', what: string): never {
    throw new CborError(code, `The CBOR input is ${code === 'CBOR_TRUNCATED' ? 'truncated' : code === 'CBOR_MALFORMED' ? 'malformed' : 'not deterministically encoded'}: ${what} (at byte ${this.pos}).`, { details: { offset: this.pos } });
  }

  private need(n: number): void {
    if (this.b.length - this.pos < n) this.fail('CBOR_TRUNCATED', `${n} more byte(s) needed, ${this.b.length - this.pos} left`);
  }

  head(): Head {
    this.need(1);
    const ib = this.b[this.pos++]!;
    const major = ib >> 5;
    const ai = ib & 31;
    const b = this.b;
    if (ai < 24) return { major, arg: ai, indefinite: false };
    if (ai === 31) return { major, arg: 0, indefinite: true };
    if (ai > 27) this.fail('CBOR_MALFORMED', `reserved additional information ${ai} in a ${MAJOR_NAME[major]} head`);
    const n = 1 << (ai - 24);
    this.need(n);
    const p = this.pos;
    this.pos += n;
    let arg: number;
    let big: bigint | undefined;
    if (n === 1) arg = b[p]!;
    else if (n === 2) arg = (b[p]! << 8) | b[p + 1]!;
    else if (n === 4) arg = ((b[p]! << 24) >>> 0) + (b[p + 1]! << 16) + (b[p + 2]! << 8) + b[p + 3]!;
    else {
      const hi = ((b[p]! << 24) >>> 0) + (b[p + 1]! << 16) + (b[p + 2]! << 8) + b[p + 3]!;
      const lo = ((b[p + 4]! << 24) >>> 0) + (b[p + 5]! << 16) + (b[p + 6]! << 8) + b[p + 7]!;
      if (hi < 0x20_0000) arg = hi * TWO_32 + lo;
      else {
        arg = Infinity;
        big = (BigInt(hi) << 32n) | BigInt(lo);
      }
    }
    if (this.det && major !== 7) {
      const min = n === 1 ? 24 : n === 2 ? 0x100 : n === 4 ? 0x1_0000 : TWO_32;
      if (arg < min) this.fail('CBOR_NOT_DETERMINISTIC', `${arg} is not in its shortest form`);
    }
    return big === undefined ? { major, arg, indefinite: false } : { major, arg, big, indefinite: false };
  }

  /** Scans one data item; returns its value when it is an integer or a text string (map keys). */
  item(depth: number, asKey: boolean): CborKey | undefined {
    if (++this.items > this.lim.maxItems) {
      throw new CborError('CBOR_TOO_MANY_ITEMS', `The CBOR input has more than ${this.lim.maxItems} data items.`, { details: { maxItems: this.lim.maxItems } });
    }
    this.need(1);
    const ib = this.b[this.pos]!;
    if (ib >> 5 === 7) {
      const ai = ib & 31;
      if (ai === 31) this.fail('CBOR_MALFORMED', 'a "break" outside an indefinite-length item');
      if (ai < 20 || ai > 22) {
        const what = ai === 23 ? 'undefined' : ai >= 25 && ai <= 27 ? 'a floating-point number' : 'a simple value';
        throw new CborError('CBOR_UNSUPPORTED_TYPE', `The CBOR input contains ${what} (byte ${this.pos}); tollgate's CBOR has no floats and no simple values but false, true and null.`, { details: { offset: this.pos } });
      }
      if (asKey) this.keyUnsupported('false/true/null');
      this.pos++;
      return undefined;
    }
    const start = this.pos;
    const h = this.head();
    if (h.major === 6) {
      this.pos = start;
      throw new CborError('CBOR_TAG_NOT_ALLOWED', `The CBOR input has tag ${h.big ?? h.arg} at byte ${start}, where no tag is allowed.`, { details: { offset: start, tag: String(h.big ?? h.arg) } });
    }
    if (h.indefinite) {
      this.pos = start;
      if (h.major >= 2 && h.major <= 5) {
        throw new CborError('CBOR_INDEFINITE_LENGTH', `The CBOR input has an indefinite-length ${MAJOR_NAME[h.major]} at byte ${start}; only definite lengths are accepted.`, { details: { offset: start } });
      }
      this.fail('CBOR_MALFORMED', `additional information 31 in a ${MAJOR_NAME[h.major]} head`);
    }
    switch (h.major) {
      case 0:
      case 1: {
        if (h.big !== undefined || !Number.isSafeInteger(h.major === 0 ? h.arg : -1 - h.arg)) {
          if (asKey) this.keyUnsupported('an integer outside ±2^53');
          return undefined;
        }
        return h.major === 0 ? h.arg : -1 - h.arg;
      }
      case 2:
      case 3: {
        if (h.arg > this.b.length - this.pos) this.fail('CBOR_TRUNCATED', `a ${MAJOR_NAME[h.major]} of ${h.big ?? h.arg} bytes, ${this.b.length - this.pos} left`);
        const s = this.b.subarray(this.pos, this.pos + h.arg);
        this.pos += h.arg;
        if (h.major === 2) {
          if (asKey) this.keyUnsupported('a byte string');
          return undefined;
        }
        if (!isUtf8(s)) throw new CborError('CBOR_UTF8_INVALID', `The CBOR text string at byte ${start} is not valid UTF-8.`, { details: { offset: start } });
        return asKey ? Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('utf8') : undefined;
      }
      case 4:
      case 5: {
        if (asKey) this.keyUnsupported(`a${h.major === 4 ? 'n array' : ' map'}`);
        // Every element takes at least one byte (a map entry two): refuse counts the input cannot hold.
        const per = h.major === 4 ? 1 : 2;
        if (h.arg > (this.b.length - this.pos) / per) this.fail('CBOR_TRUNCATED', `a ${MAJOR_NAME[h.major]} of ${h.big ?? h.arg} entries, ${this.b.length - this.pos} bytes left`);
        if (depth + 1 > this.lim.maxDepth) {
          throw new CborError('CBOR_TOO_DEEP', `The CBOR input nests arrays/maps more than ${this.lim.maxDepth} deep (at byte ${start}).`, { details: { offset: start, maxDepth: this.lim.maxDepth } });
        }
        if (h.major === 4) {
          for (let i = 0; i < h.arg; i++) this.item(depth + 1, false);
          return undefined;
        }
        const seen = new Set<CborKey>();
        let prev: Uint8Array | undefined;
        for (let i = 0; i < h.arg; i++) {
          const ks = this.pos;
          const key = this.item(depth + 1, true)!;
          if (seen.has(key)) {
            throw new CborError('CBOR_DUPLICATE_KEY', `The CBOR map at byte ${start} has the key ${JSON.stringify(key)} twice.`, { details: { offset: ks, key } });
          }
          seen.add(key);
          if (this.det) {
            const kb = this.b.subarray(ks, this.pos);
            if (prev && Buffer.compare(prev, kb) >= 0) this.fail('CBOR_NOT_DETERMINISTIC', `map keys out of order`);
            prev = kb;
          }
          this.item(depth + 1, false);
        }
        return undefined;
      }
    }
    return undefined;
  }

  private keyUnsupported(what: string): never {
    throw new CborError('CBOR_KEY_UNSUPPORTED', `A CBOR map key at byte ${this.pos} is ${what}; only integers and text strings are accepted as keys.`, { details: { offset: this.pos } });
  }
}

function limitsOf(o: CborLimits | undefined): Required<CborLimits> {
  return {
    maxBytes: o?.maxBytes ?? DEFAULT_CBOR_LIMITS.maxBytes,
    maxDepth: o?.maxDepth ?? DEFAULT_CBOR_LIMITS.maxDepth,
    maxItems: o?.maxItems ?? DEFAULT_CBOR_LIMITS.maxItems,
  };
}

// ------------------------------------------------------------------------------------------------
// Decoding

// mapsAsObjects: false keeps integer keys (COSE labels, CWT claim keys) as integers; copyBuffers
// detaches byte strings from the input buffer.
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false, copyBuffers: true, bundleStrings: false, sequential: false });

/** Decodes one CBOR data item that carries no tag at all. */
export function decodeCBOR(bytes: Uint8Array, options: Omit<DecodeOptions, 'tags'> = {}): CborValue {
  return decodeCBORTagged(bytes, { ...options, tags: [] }).value;
}

/** Decodes one CBOR data item, which may carry one of `options.tags` on the outside. */
export function decodeCBORTagged(bytes: Uint8Array, options: DecodeOptions = {}): { tag: number | undefined; value: CborValue } {
  if (!(bytes instanceof Uint8Array)) throw new CborError('CBOR_MALFORMED', 'The CBOR input is not a byte array.');
  const lim = limitsOf(options);
  if (bytes.length > lim.maxBytes) {
    throw new CborError('CBOR_TOO_LARGE', `The CBOR input is ${bytes.length} bytes, more than the ${lim.maxBytes}-byte limit.`, { details: { size: bytes.length, maxBytes: lim.maxBytes } });
  }
  if (bytes.length === 0) throw new CborError('CBOR_TRUNCATED', 'The CBOR input is empty.');
  const s = new Scanner(bytes, lim, options.deterministic === true);
  let tag: number | undefined;
  if (bytes[0]! >> 5 === 6) {
    const h = s.head();
    const n = h.big ?? h.arg;
    if (h.indefinite || typeof n !== 'number' || !(options.tags ?? []).includes(n)) {
      const allowed = options.tags?.length ? `only ${options.tags.join(', ')} is accepted there` : 'no tag is accepted';
      throw new CborError('CBOR_TAG_NOT_ALLOWED', `The CBOR input starts with tag ${h.indefinite ? '(malformed)' : String(n)}; ${allowed}.`, { details: { offset: 0, tag: String(n) } });
    }
    tag = n;
  }
  const contentStart = s.pos;
  s.item(0, false);
  if (s.pos !== bytes.length) {
    throw new CborError('CBOR_TRAILING_BYTES', `The CBOR input has ${bytes.length - s.pos} byte(s) after its data item.`, { details: { offset: s.pos } });
  }
  // A fresh view: cbor-x caches a DataView on the object it is given.
  const content = new Uint8Array(bytes.buffer, bytes.byteOffset + contentStart, bytes.length - contentStart);
  let raw: unknown;
  try {
    raw = decoder.decode(content);
  } catch (e) {
    // The scan accepted it, so this is a disagreement with cbor-x: still refuse, typed.
    throw new CborError('CBOR_MALFORMED', `The CBOR input could not be decoded: ${(e as Error).message}`, { cause: e });
  }
  return { tag, value: normalize(raw, 0) };
}

/** cbor-x returns 64-bit-encoded integers as bigint: back to number where exact, and checks types. */
function normalize(v: unknown, depth: number): CborValue {
  // Depth is already bounded by the scan's maxDepth.
  switch (typeof v) {
    case 'number':
    case 'string':
    case 'boolean':
      return v;
    case 'bigint':
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    case 'object': {
      if (v === null || v instanceof Uint8Array) return v;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) v[i] = normalize(v[i], depth + 1);
        return v as CborValue[];
      }
      if (v instanceof Map) {
        const out: CborMap = new Map();
        for (const [k, val] of v) out.set(typeof k === 'bigint' ? Number(k) : (k as CborKey), normalize(val, depth + 1));
        return out;
      }
    }
  }
  throw new CborError('CBOR_MALFORMED', `The CBOR decoder produced an unexpected ${typeof v}.`);
}

// ------------------------------------------------------------------------------------------------
// Deterministic encoding

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: false,
  useTag259ForMaps: false,
  tagUint8Array: false,
  variableMapSize: true,
  largeBigIntToFloat: false,
  structuredClone: false,
  bundleStrings: false,
  pack: false,
  useFloat32: 0,
} as ConstructorParameters<typeof Encoder>[0] & { useTag259ForMaps: boolean });

const MAX_ENCODE_DEPTH = 64;
const U64 = 1n << 64n;

function unsupported(what: string, path: string): never {
  throw new CborError('CBOR_ENCODE_UNSUPPORTED', `Cannot encode ${what} at ${path}: tollgate's CBOR has integers, strings, byte strings, arrays, Maps, booleans and null.`, { details: { path } });
}

function rawEncode(v: unknown): Uint8Array {
  const out = encoder.encode(v);
  // Copy: the result may be a view into cbor-x's reusable buffer.
  return new Uint8Array(out);
}

/**
 * Rewrites a value into the shape cbor-x encodes deterministically: integers beyond 32 bits as
 * bigint (cbor-x writes large JS numbers as floats), bigints that fit 32 bits as numbers (cbor-x
 * writes every bigint in 8 bytes), byte strings as plain Uint8Array, and Maps with sorted keys.
 */
function canonical(v: unknown, depth: number, path: string): unknown {
  if (depth > MAX_ENCODE_DEPTH) unsupported(`nesting deeper than ${MAX_ENCODE_DEPTH} (a cycle?)`, path);
  switch (typeof v) {
    case 'number':
      if (!Number.isSafeInteger(v)) unsupported(Number.isInteger(v) ? 'an integer beyond ±2^53 as a number (use a bigint)' : `the non-integer ${v}`, path);
      return v >= -TWO_32 && v < TWO_32 ? (Object.is(v, -0) ? 0 : v) : BigInt(v);
    case 'bigint':
      // cbor-x writes -2^64 (valid CBOR) as a bignum tag; the range stops one short of it.
      if (v <= -U64 || v >= U64) unsupported('an integer beyond 64 bits', path);
      return v >= BigInt(-TWO_32) && v < BigInt(TWO_32) ? Number(v) : v;
    case 'string':
      if (!v.isWellFormed()) unsupported('a string with a lone surrogate', path);
      return v;
    case 'boolean':
      return v;
    case 'object': {
      if (v === null) return null;
      if (v instanceof Uint8Array) return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      if (Array.isArray(v)) return v.map((x, i) => canonical(x, depth + 1, `${path}[${i}]`));
      if (v instanceof Map) {
        const entries: Array<{ kb: Uint8Array; k: unknown; v: unknown }> = [];
        for (const [k, val] of v) {
          if (!(typeof k === 'string' || (typeof k === 'number' && Number.isSafeInteger(k)))) unsupported(`the map key ${String(k)} (keys are integers or strings)`, path);
          const ck = canonical(k, depth + 1, path);
          entries.push({ kb: rawEncode(ck), k: ck, v: canonical(val, depth + 1, `${path}[${JSON.stringify(k)}]`) });
        }
        entries.sort((a, b) => Buffer.compare(a.kb, b.kb));
        for (let i = 1; i < entries.length; i++) {
          if (Buffer.compare(entries[i - 1]!.kb, entries[i]!.kb) === 0) unsupported(`the duplicate map key ${String(entries[i]!.k)}`, path);
        }
        return new Map(entries.map((e) => [e.k, e.v]));
      }
      unsupported(`a ${(v as object).constructor?.name ?? 'null-prototype object'}`, path);
    }
    default:
      unsupported(typeof v, path);
  }
}

/** Encodes a value in RFC 8949 core deterministic encoding. */
export function encodeCBOR(value: CborValue): Uint8Array {
  return rawEncode(canonical(value, 0, '$'));
}

/** Encodes `tag(value)` (the tag head in shortest form, the value deterministically). */
export function encodeTaggedCBOR(tag: number, value: CborValue): Uint8Array {
  if (!Number.isSafeInteger(tag) || tag < 0 || tag >= TWO_32) unsupported(`the tag ${tag}`, '$');
  const body = encodeCBOR(value);
  const head = tag < 24 ? [0xc0 | tag] : tag < 0x100 ? [0xd8, tag] : tag < 0x1_0000 ? [0xd9, tag >> 8, tag & 0xff] : [0xda, tag >>> 24, (tag >> 16) & 0xff, (tag >> 8) & 0xff, tag & 0xff];
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Small readers for decoded values (callers turn a false into their own typed error)

export function isCborMap(v: CborValue | undefined): v is CborMap {
  return v instanceof Map;
}

export function isBytes(v: CborValue | undefined): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** A safe, non-negative integer. */
export function isUint(v: CborValue | undefined): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

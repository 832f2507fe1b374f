// A bounded ASN.1 reader for DER, tolerant of the BER slips real EK certificates make
// (non-minimal lengths and integers, BOOLEAN true that is not 0xFF, unsorted SETs). Every read is
// checked against the end of its enclosing element, never against a declared length alone, so a
// hostile length can neither read out of bounds nor make us allocate; nesting depth and the
// number of elements per parse are capped. Indefinite lengths (BER-only, never seen in an X.509
// certificate) and constructed string encodings are refused. Deviations from DER are recorded
// as quirk names on the parse context rather than failing the parse.
import { X509Error } from './errors.ts';

export const UNIVERSAL = 0;
export const APPLICATION = 1;
export const CONTEXT = 2;
export const PRIVATE = 3;

export const TAG = {
  BOOLEAN: 1, INTEGER: 2, BIT_STRING: 3, OCTET_STRING: 4, NULL: 5, OID: 6, ENUMERATED: 10, UTF8_STRING: 12,
  SEQUENCE: 16, SET: 17, NUMERIC_STRING: 18, PRINTABLE_STRING: 19, T61_STRING: 20, VIDEOTEX_STRING: 21, IA5_STRING: 22,
  UTC_TIME: 23, GENERALIZED_TIME: 24, GRAPHIC_STRING: 25, VISIBLE_STRING: 26, GENERAL_STRING: 27, UNIVERSAL_STRING: 28,
  BMP_STRING: 30,
} as const;

export interface DERLimits {
  /** Deepest nesting of constructed elements. */
  maxDepth: number;
  /** Most elements one parse may read (bounds the work a hostile input can cause). */
  maxNodes: number;
}

export const DEFAULT_LIMITS: DERLimits = { maxDepth: 24, maxNodes: 8192 };

/** One parse: its limits, how many elements it has read, and the DER deviations it met. */
export class ParseContext {
  readonly limits: DERLimits;
  readonly quirks = new Set<string>();
  nodes = 0;
  constructor(limits: DERLimits = DEFAULT_LIMITS) {
    this.limits = limits;
  }
}

/** One element: identifier, and where its header and contents lie in `buf`. */
export interface TLV {
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  cls: number;
  constructed: boolean;
  tag: number;
  start: number;
  content: number;
  end: number;
  buf: Uint8Array;
}

export function malformed(what: string, why: string, offset?: number): X509Error {
  return new X509Error('X509_MALFORMED', `${what}: ${why}${offset !== undefined ? ` (at byte ${offset})` : ''}.`, { details: { what, ...(offset !== undefined ? { offset } : {}) } });
}

/** The element's whole encoding (header and contents), as a view. */
export const tlvBytes = (t: TLV): Uint8Array => t.buf.subarray(t.start, t.end);
/** The element's contents, as a view. */
export const contents = (t: TLV): Uint8Array => t.buf.subarray(t.content, t.end);

/** Reads one element header at `pos`; its contents must end by `limit`. */
export function readTLV(ctx: ParseContext, buf: Uint8Array, pos: number, limit: number, what: string): TLV {
  if (++ctx.nodes > ctx.limits.maxNodes) throw new X509Error('X509_TOO_LARGE', `${what}: more than ${ctx.limits.maxNodes} ASN.1 elements; no certificate has that many.`);
  const start = pos;
  if (pos >= limit) throw malformed(what, 'the data ends where an element should start', pos);
  const id = buf[pos++]!;
  const cls = id >> 6;
  const constructed = (id & 0x20) !== 0;
  let tag = id & 0x1f;
  if (tag === 0x1f) {
    // High tag number form: base-128, at most 3 octets (tags up to 2^21), no leading 0x80.
    tag = 0;
    for (let i = 0; ; i++) {
      if (pos >= limit) throw malformed(what, 'the tag runs past the end', start);
      const b = buf[pos++]!;
      if (i === 0 && b === 0x80) throw malformed(what, 'the tag number has a leading zero octet', start);
      if (i >= 3) throw malformed(what, 'the tag number is too large', start);
      tag = tag * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
    if (tag < 31) ctx.quirks.add('non-minimal-tag');
  }
  if (pos >= limit) throw malformed(what, 'the length is missing', start);
  const l0 = buf[pos++]!;
  let len: number;
  if (l0 < 0x80) len = l0;
  else if (l0 === 0x80) throw malformed(what, 'indefinite length (BER) is not supported in certificates', start);
  else if (l0 === 0xff) throw malformed(what, 'reserved length octet 0xFF', start);
  else {
    const n = l0 & 0x7f;
    if (n > 4) throw malformed(what, `a ${n}-octet length field is larger than any certificate`, start);
    if (pos + n > limit) throw malformed(what, 'the length runs past the end', start);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos++]!;
    // DER wants the shortest form: no leading zero octet, and the long form only from 128 up.
    if (buf[pos - n] === 0 || len < 0x80) ctx.quirks.add('non-minimal-length');
  }
  if (len > limit - pos) throw malformed(what, `the element claims ${len} bytes but only ${limit - pos} remain`, start);
  return { cls, constructed, tag, start, content: pos, end: pos + len, buf };
}

/** Sequential reader over the contents of one constructed element (or a whole buffer). */
export class DERReader {
  readonly ctx: ParseContext;
  readonly buf: Uint8Array;
  readonly limit: number;
  readonly depth: number;
  pos: number;

  constructor(ctx: ParseContext, buf: Uint8Array, start = 0, limit = buf.length, depth = 0) {
    if (depth > ctx.limits.maxDepth) throw new X509Error('X509_TOO_LARGE', `ASN.1 nesting deeper than ${ctx.limits.maxDepth} levels; no certificate nests that deep.`);
    this.ctx = ctx;
    this.buf = buf;
    this.pos = start;
    this.limit = limit;
    this.depth = depth;
  }

  get done(): boolean {
    return this.pos >= this.limit;
  }

  /** The next element without consuming it, or undefined at the end. */
  peek(what: string): TLV | undefined {
    if (this.done) return undefined;
    const t = readTLV(this.ctx, this.buf, this.pos, this.limit, what);
    this.ctx.nodes--; // counted again when consumed
    return t;
  }

  next(what: string): TLV {
    const t = readTLV(this.ctx, this.buf, this.pos, this.limit, what);
    this.pos = t.end;
    return t;
  }

  /** The next element, which must have this class and tag (and be constructed or primitive as said). */
  expect(cls: number, tag: number, what: string, constructed?: boolean): TLV {
    const t = this.next(what);
    if (t.cls !== cls || t.tag !== tag) throw malformed(what, `expected ${tagName(cls, tag)}, found ${tagName(t.cls, t.tag)}`, t.start);
    if (constructed !== undefined && t.constructed !== constructed) throw malformed(what, `${tagName(cls, tag)} must be ${constructed ? 'constructed' : 'primitive'}`, t.start);
    return t;
  }

  /** Consumes and returns the next element if it has this class and tag. */
  optional(cls: number, tag: number, what: string): TLV | undefined {
    const t = this.peek(what);
    if (!t || t.cls !== cls || t.tag !== tag) return undefined;
    return this.next(what);
  }

  /** A reader over the contents of a constructed element read by this reader. */
  enter(t: TLV, what: string): DERReader {
    if (!t.constructed) throw malformed(what, `${tagName(t.cls, t.tag)} must be constructed`, t.start);
    return new DERReader(this.ctx, this.buf, t.content, t.end, this.depth + 1);
  }

  /** Every remaining element (bounded by the node cap). */
  rest(what: string): TLV[] {
    const out: TLV[] = [];
    while (!this.done) out.push(this.next(what));
    return out;
  }
}

const UNIVERSAL_NAMES: Record<number, string> = {
  1: 'BOOLEAN', 2: 'INTEGER', 3: 'BIT STRING', 4: 'OCTET STRING', 5: 'NULL', 6: 'OBJECT IDENTIFIER', 10: 'ENUMERATED',
  12: 'UTF8String', 16: 'SEQUENCE', 17: 'SET', 19: 'PrintableString', 22: 'IA5String', 23: 'UTCTime', 24: 'GeneralizedTime',
};

export function tagName(cls: number, tag: number): string {
  if (cls === UNIVERSAL) return UNIVERSAL_NAMES[tag] ?? `universal tag ${tag}`;
  return `${['universal', 'application', 'context', 'private'][cls]} [${tag}]`;
}

// ------------------------------------------------------------------------------------------------
// Primitive values

function primitive(t: TLV, what: string): Uint8Array {
  if (t.constructed) throw malformed(what, `a constructed ${tagName(t.cls, t.tag)} (BER string segments) is not supported`, t.start);
  return contents(t);
}

/** INTEGER contents exactly as encoded (two's complement, big-endian). */
export function integerBytes(ctx: ParseContext, t: TLV, what: string): Uint8Array {
  const c = primitive(t, what);
  if (c.length === 0) throw malformed(what, 'an INTEGER with no content octets', t.start);
  if (c.length > 1 && ((c[0] === 0 && (c[1]! & 0x80) === 0) || (c[0] === 0xff && (c[1]! & 0x80) !== 0))) ctx.quirks.add('non-minimal-integer');
  return c;
}

/** A small INTEGER (version, pathLen, PSS salt length) as a number; refuses values beyond 32 bits. */
export function smallInteger(ctx: ParseContext, t: TLV, what: string): number {
  const c = integerBytes(ctx, t, what);
  // Skip redundant sign octets (0x00 before a clear top bit, 0xFF before a set one).
  let i = 0;
  while (i < c.length - 1 && ((c[i] === 0 && (c[i + 1]! & 0x80) === 0) || (c[i] === 0xff && (c[i + 1]! & 0x80) !== 0))) i++;
  const n = c.length - i;
  if (n > 4) throw malformed(what, 'the INTEGER is too large', t.start);
  let v = 0;
  for (let j = i; j < c.length; j++) v = v * 256 + c[j]!;
  if (c[i]! & 0x80) v -= 2 ** (8 * n);
  return v;
}

/** An unsigned big integer (RSA modulus, ECDSA r/s) without sign or padding zero octets. */
export function unsignedBytes(ctx: ParseContext, t: TLV, what: string): Uint8Array {
  const c = integerBytes(ctx, t, what);
  if (c[0]! & 0x80) ctx.quirks.add('negative-integer');
  let i = 0;
  while (i < c.length - 1 && c[i] === 0) i++;
  return c.subarray(i);
}

export function booleanValue(ctx: ParseContext, t: TLV, what: string): boolean {
  const c = primitive(t, what);
  if (c.length !== 1) throw malformed(what, `a BOOLEAN must have one content octet, not ${c.length}`, t.start);
  if (c[0] !== 0 && c[0] !== 0xff) ctx.quirks.add('boolean-not-ff');
  return c[0] !== 0;
}

export function nullValue(t: TLV, what: string): void {
  if (primitive(t, what).length !== 0) throw malformed(what, 'NULL must be empty', t.start);
}

export function octets(t: TLV, what: string): Uint8Array {
  return primitive(t, what);
}

export interface BitString {
  unusedBits: number;
  bytes: Uint8Array;
}

export function bitString(ctx: ParseContext, t: TLV, what: string): BitString {
  const c = primitive(t, what);
  if (c.length === 0) throw malformed(what, 'a BIT STRING needs its unused-bits octet', t.start);
  const unusedBits = c[0]!;
  if (unusedBits > 7) throw malformed(what, `${unusedBits} unused bits (at most 7)`, t.start);
  if (unusedBits > 0 && c.length === 1) throw malformed(what, 'unused bits in an empty BIT STRING', t.start);
  // DER wants the unused bits zero; some signers leave junk there.
  if (unusedBits > 0 && (c[c.length - 1]! & ((1 << unusedBits) - 1)) !== 0) ctx.quirks.add('bit-string-padding-not-zero');
  return { unusedBits, bytes: c.subarray(1) };
}

/** Dotted-decimal OBJECT IDENTIFIER. Arcs beyond 2^53 (UUID OIDs under 2.25) are exact via BigInt. */
export function oidValue(ctx: ParseContext, t: TLV, what: string): string {
  const c = primitive(t, what);
  if (c.length === 0) throw malformed(what, 'an empty OBJECT IDENTIFIER', t.start);
  if (c.length > 128) throw new X509Error('X509_TOO_LARGE', `${what}: an OBJECT IDENTIFIER of ${c.length} bytes.`);
  if (c[c.length - 1]! & 0x80) throw malformed(what, 'the OBJECT IDENTIFIER ends inside an arc', t.start);
  const arcs: string[] = [];
  let v = 0n;
  let first = true;
  let arcStart = true;
  for (const b of c) {
    if (arcStart && b === 0x80) ctx.quirks.add('non-minimal-oid');
    v = (v << 7n) | BigInt(b & 0x7f);
    arcStart = (b & 0x80) === 0;
    if (!arcStart) continue;
    if (first) {
      const x = v < 40n ? 0n : v < 80n ? 1n : 2n;
      arcs.push(String(x), String(v - 40n * x));
      first = false;
    } else arcs.push(String(v));
    v = 0n;
  }
  return arcs.join('.');
}

/** The string types names and certificates use, decoded leniently (bad UTF-8 becomes U+FFFD). */
export function stringValue(t: TLV, what: string): string | undefined {
  if (t.cls !== UNIVERSAL) return undefined;
  switch (t.tag) {
    case TAG.UTF8_STRING:
      return Buffer.from(primitive(t, what)).toString('utf8');
    case TAG.PRINTABLE_STRING: case TAG.IA5_STRING: case TAG.VISIBLE_STRING: case TAG.NUMERIC_STRING:
    case TAG.GENERAL_STRING: case TAG.GRAPHIC_STRING:
      return Buffer.from(primitive(t, what)).toString('latin1');
    case TAG.T61_STRING: case TAG.VIDEOTEX_STRING:
      // Treated as Latin-1 as most implementations do; T.61 proper is never used in certificates.
      return Buffer.from(primitive(t, what)).toString('latin1');
    case TAG.BMP_STRING: {
      const c = primitive(t, what);
      if (c.length % 2) throw malformed(what, 'a BMPString of odd length', t.start);
      return Buffer.from(c).swap16().toString('utf16le');
    }
    case TAG.UNIVERSAL_STRING: {
      const c = primitive(t, what);
      if (c.length % 4) throw malformed(what, 'a UniversalString whose length is not a multiple of 4', t.start);
      let s = '';
      for (let i = 0; i < c.length; i += 4) {
        const cp = ((c[i]! << 24) | (c[i + 1]! << 16) | (c[i + 2]! << 8) | c[i + 3]!) >>> 0;
        s += cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : '\ufffd';
      }
      return s;
    }
    default:
      return undefined;
  }
}

const digits = (s: string, from: number, n: number): number => {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
};

/**
 * UTCTime or GeneralizedTime as a Date. DER wants YYMMDDhhmmssZ / YYYYMMDDhhmmssZ; real
 * certificates also carry times without seconds, with fractional seconds, with a ±hhmm offset, or
 * without a zone (taken as UTC). Those are accepted and recorded as quirks.
 */
export function timeValue(ctx: ParseContext, t: TLV, what: string): { date: Date; text: string } {
  if (t.cls !== UNIVERSAL || (t.tag !== TAG.UTC_TIME && t.tag !== TAG.GENERALIZED_TIME)) throw malformed(what, `expected a UTCTime or GeneralizedTime, found ${tagName(t.cls, t.tag)}`, t.start);
  const c = primitive(t, what);
  if (c.length > 32) throw malformed(what, 'the time is too long', t.start);
  const text = Buffer.from(c).toString('latin1');
  const bad = (): X509Error => malformed(what, `"${text.replace(/[^\x20-\x7e]/g, '?')}" is not a valid time`, t.start);
  let i: number;
  let year: number;
  if (t.tag === TAG.UTC_TIME) {
    const yy = digits(text, 0, 2);
    year = yy >= 50 ? 1900 + yy : 2000 + yy; // RFC 5280 4.1.2.5.1
    i = 2;
  } else {
    year = digits(text, 0, 4);
    i = 4;
  }
  const month = digits(text, i, 2);
  const day = digits(text, i + 2, 2);
  const hour = digits(text, i + 4, 2);
  const minute = digits(text, i + 6, 2);
  i += 8;
  let second = 0;
  let ms = 0;
  if (i + 2 <= text.length && /^[0-9]{2}/.test(text.slice(i, i + 2))) {
    second = digits(text, i, 2);
    i += 2;
    if (text[i] === '.' || text[i] === ',') {
      const m = /^[.,]([0-9]{1,9})/.exec(text.slice(i));
      if (!m) throw bad();
      ms = Math.floor(Number(`0.${m[1]}`) * 1000);
      i += m[0].length;
      ctx.quirks.add('time-fraction');
    }
  } else ctx.quirks.add('time-without-seconds');
  let offsetMin = 0;
  if (text[i] === 'Z') i++;
  else if (text[i] === '+' || text[i] === '-') {
    const oh = digits(text, i + 1, 2);
    const om = digits(text, i + 3, 2);
    if (!(oh <= 23 && om <= 59)) throw bad();
    offsetMin = (text[i] === '+' ? 1 : -1) * (oh * 60 + om);
    i += 5;
    ctx.quirks.add('time-offset');
  } else ctx.quirks.add('time-without-zone');
  if (i !== text.length) throw bad();
  if (!(year >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60)) throw bad();
  // setUTCFullYear (unlike Date.UTC) keeps years 0–99 as they are; a day that rolls over
  // (31 February) is not a calendar date.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  if (d.getUTCDate() !== day) throw bad();
  d.setUTCHours(hour, minute, second, ms);
  const date = new Date(d.getTime() - offsetMin * 60_000);
  return { date, text };
}

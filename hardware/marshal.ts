// TPM 2.0 wire format: a byte Writer/Reader and ONE generic encoder/decoder driven by declarative
// schemas. Every spec structure in types.ts is a schema value; its TypeScript type is inferred from
// the schema (Infer<S>), so the wire layout and the type cannot drift apart.
//
// Decoding is strict: every read is bounds-checked, sized structures must consume exactly their
// size, union selectors must be known, and lists/buffers have spec maximums. Any violation throws
// TPMMarshalError(TPM_MALFORMED_RESPONSE) — never a RangeError or TypeError.
import { TPMMarshalError } from './tpmerrors.ts';

// ---------------------------------------------------------------------------------------------
// Schemas

export interface U8S { readonly k: 'u8'; readonly oneOf?: readonly number[] }
export interface U16S { readonly k: 'u16'; readonly oneOf?: readonly number[] }
export interface U32S { readonly k: 'u32'; readonly oneOf?: readonly number[] }
export interface I32S { readonly k: 'i32' }
export interface U64S { readonly k: 'u64' }
/** Fixed-length bytes (e.g. a TPMU_HA digest whose size the hash algorithm decides). */
export interface FixedS { readonly k: 'fixed'; readonly n: number }
/** A sized byte buffer: TPM2B_* (u16 length) or a u8-length array such as pcrSelect. */
export interface BufS { readonly k: 'buf'; readonly name: string; readonly len: 1 | 2; readonly max: number }
/** A TPM2B wrapping a structure (TPM2B_PUBLIC, TPM2B_NV_PUBLIC, ...). allowEmpty: size 0 decodes to null. */
export interface SizedS<I extends Schema = Schema, E extends boolean = boolean> { readonly k: 'sized'; readonly name: string; readonly inner: I; readonly allowEmpty: E }
/** TPML_*: u32 count then items. */
export interface ListS<O extends Schema = Schema> { readonly k: 'list'; readonly name: string; readonly of: O; readonly max: number }
export interface StructS<F extends Fields = Fields> {
  readonly k: 'struct'; readonly name: string; readonly fields: F;
  /** [field, schema, "STRUCT.field"] precomputed, so the hot path builds no strings. */
  readonly entries: ReadonlyArray<readonly [string, Schema, string]>;
}
/** TPMU_*: the member is chosen by a sibling field (the selector) decoded earlier in the same struct. null = empty member. */
export interface UnionS<C extends Cases = Cases> { readonly k: 'union'; readonly name: string; readonly selector: string; readonly cases: C }

export type Schema = U8S | U16S | U32S | I32S | U64S | FixedS | BufS | SizedS<any, boolean> | ListS<any> | StructS<any> | UnionS<any>;
export type Fields = { readonly [name: string]: Schema };
export type Cases = { readonly [selector: number]: Schema | null };

/** The TypeScript type of values of a schema. */
export type Infer<S> =
  S extends { k: 'u8' | 'u16' | 'u32' | 'i32' } ? number :
  S extends { k: 'u64' } ? bigint :
  S extends { k: 'buf' | 'fixed' } ? Uint8Array :
  S extends { k: 'sized'; inner: infer I; allowEmpty: true } ? Infer<I> | null :
  S extends { k: 'sized'; inner: infer I } ? Infer<I> :
  S extends { k: 'list'; of: infer O } ? Array<Infer<O>> :
  S extends { k: 'struct'; fields: infer F } ? { -readonly [K in keyof F]: Infer<F[K]> } :
  S extends { k: 'union'; cases: infer C } ? { [K in keyof C]: C[K] extends null ? null : Infer<C[K]> }[keyof C] :
  never;

// Builders. Names are the spec names without underscores; they appear in error messages.
export const u8: U8S = { k: 'u8' };
export const u16: U16S = { k: 'u16' };
export const u32: U32S = { k: 'u32' };
export const i32: I32S = { k: 'i32' };
export const u64: U64S = { k: 'u64' };
export const yesNo: U8S = { k: 'u8', oneOf: [0, 1] };
export function fixed(n: number): FixedS { return { k: 'fixed', n }; }
export function buf(name: string, max: number, len: 1 | 2 = 2): BufS { return { k: 'buf', name, len, max }; }
export function sized<const I extends Schema>(name: string, inner: I): SizedS<I, false> { return { k: 'sized', name, inner, allowEmpty: false }; }
export function sizedOptional<const I extends Schema>(name: string, inner: I): SizedS<I, true> { return { k: 'sized', name, inner, allowEmpty: true }; }
export function list<const O extends Schema>(name: string, of: O, max: number): ListS<O> { return { k: 'list', name, of, max }; }
export function struct<const F extends Fields>(name: string, fields: F): StructS<F> {
  return { k: 'struct', name, fields, entries: Object.entries(fields).map(([f, fs]) => [f, fs, `${name}.${f}`] as const) };
}
export function union<const C extends Cases>(name: string, selector: string, cases: C): UnionS<C> { return { k: 'union', name, selector, cases }; }

// ---------------------------------------------------------------------------------------------
// Byte writer / reader

function bad(msg: string): TPMMarshalError {
  return new TPMMarshalError('TPM_BAD_VALUE', msg);
}
function malformed(msg: string): TPMMarshalError {
  return new TPMMarshalError('TPM_MALFORMED_RESPONSE', `Malformed TPM response: ${msg}. The TPM or the link to it is faulty, or something altered the response.`);
}

export class Writer {
  private buf: Buffer;
  private n = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.n;
  }

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.n);
    this.buf = next;
  }

  u8(v: number): this { checkUint(v, 0xff, 'UINT8'); this.room(1); this.buf[this.n++] = v; return this; }
  u16(v: number): this { checkUint(v, 0xffff, 'UINT16'); this.room(2); this.buf.writeUInt16BE(v, this.n); this.n += 2; return this; }
  u32(v: number): this { checkUint(v, 0xffffffff, 'UINT32'); this.room(4); this.buf.writeUInt32BE(v >>> 0, this.n); this.n += 4; return this; }
  i32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw bad(`${v} is not an INT32`);
    this.room(4); this.buf.writeInt32BE(v, this.n); this.n += 4; return this;
  }
  u64(v: bigint): this {
    if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) throw bad(`${String(v)} is not a UINT64 (bigint)`);
    this.room(8); this.buf.writeBigUInt64BE(v, this.n); this.n += 8; return this;
  }
  bytes(b: Uint8Array): this { this.room(b.length); this.buf.set(b, this.n); this.n += b.length; return this; }
  /** Reserves a u16 and returns its offset, for sizes known only after the content is written. */
  reserveU16(): number { this.room(2); const at = this.n; this.n += 2; return at; }
  reserveU32(): number { this.room(4); const at = this.n; this.n += 4; return at; }
  patchU16(at: number, v: number): void { checkUint(v, 0xffff, 'UINT16 size'); this.buf.writeUInt16BE(v, at); }
  patchU32(at: number, v: number): void { this.buf.writeUInt32BE(v >>> 0, at); }
  /** A copy of the written bytes. */
  finish(): Buffer { return Buffer.from(this.buf.subarray(0, this.n)); }
}

function checkUint(v: number, max: number, what: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw bad(`${String(v)} is not a ${what}`);
}

export class Reader {
  readonly buf: Uint8Array;
  private view: DataView;
  offset: number;
  readonly end: number;

  constructor(buf: Uint8Array, offset = 0, end = buf.length) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(k: number, what: string): void {
    if (this.offset + k > this.end) throw malformed(`${what} needs ${k} bytes but only ${this.end - this.offset} remain`);
  }

  u8(what = 'UINT8'): number { this.need(1, what); return this.view.getUint8(this.offset++); }
  u16(what = 'UINT16'): number { this.need(2, what); const v = this.view.getUint16(this.offset); this.offset += 2; return v; }
  u32(what = 'UINT32'): number { this.need(4, what); const v = this.view.getUint32(this.offset); this.offset += 4; return v; }
  i32(what = 'INT32'): number { this.need(4, what); const v = this.view.getInt32(this.offset); this.offset += 4; return v; }
  u64(what = 'UINT64'): bigint { this.need(8, what); const v = this.view.getBigUint64(this.offset); this.offset += 8; return v; }
  /** A copy, so decoded values never alias (or pin) the response buffer. */
  bytes(n: number, what = 'bytes'): Buffer { this.need(n, what); const b = Buffer.from(this.buf.subarray(this.offset, this.offset + n)); this.offset += n; return b; }
  /** A reader over the next n bytes; this reader skips past them. */
  sub(n: number, what = 'sized structure'): Reader { this.need(n, what); const r = new Reader(this.buf, this.offset, this.offset + n); this.offset += n; return r; }
  /** Throws unless every byte was consumed. */
  done(what: string): void {
    if (this.offset !== this.end) throw malformed(`${this.end - this.offset} unexpected trailing bytes after ${what}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The generic encoder / decoder

type Obj = Record<string, unknown>;

export function encodeInto(w: Writer, s: Schema, v: unknown, parent?: Obj, path = ''): void {
  switch (s.k) {
    case 'u8': checkOneOf(s, v, path); w.u8(v as number); return;
    case 'u16': checkOneOf(s, v, path); w.u16(v as number); return;
    case 'u32': checkOneOf(s, v, path); w.u32(v as number); return;
    case 'i32': w.i32(v as number); return;
    case 'u64': w.u64(v as bigint); return;
    case 'fixed': {
      if (!(v instanceof Uint8Array) || v.length !== s.n) throw bad(`${path || 'value'} must be ${s.n} bytes`);
      w.bytes(v); return;
    }
    case 'buf': {
      if (!(v instanceof Uint8Array)) throw bad(`${path || s.name} must be a Uint8Array`);
      if (v.length > s.max) throw bad(`${path || s.name} is ${v.length} bytes, more than the ${s.max} a ${s.name} can hold`);
      if (s.len === 1) w.u8(v.length); else w.u16(v.length);
      w.bytes(v); return;
    }
    case 'sized': {
      if (v === null || v === undefined) {
        if (!s.allowEmpty) throw bad(`${path || s.name} is required`);
        w.u16(0); return;
      }
      const at = w.reserveU16();
      const start = w.length;
      encodeInto(w, s.inner, v, undefined, path);
      w.patchU16(at, w.length - start);
      return;
    }
    case 'list': {
      if (!Array.isArray(v)) throw bad(`${path || s.name} must be an array`);
      if (v.length > s.max) throw bad(`${path || s.name} has ${v.length} entries, more than the ${s.max} allowed`);
      w.u32(v.length);
      for (let i = 0; i < v.length; i++) encodeInto(w, s.of, v[i], undefined, s.name);
      return;
    }
    case 'struct': {
      if (typeof v !== 'object' || v === null) throw bad(`${path || s.name} must be an object`);
      const o = v as Obj;
      for (const [name, fs, label] of s.entries) encodeInto(w, fs, o[name], o, label);
      return;
    }
    case 'union': {
      const sel = parent?.[s.selector];
      const c = typeof sel === 'number' ? (s.cases as Cases)[sel] : undefined;
      if (c === undefined) throw bad(`${path || s.name}: selector ${s.selector}=${String(sel)} is not one this union supports`);
      if (c === null) return;
      encodeInto(w, c, v, undefined, path);
      return;
    }
  }
}

function checkOneOf(s: U8S | U16S | U32S, v: unknown, path: string): void {
  if (s.oneOf && !s.oneOf.includes(v as number)) throw bad(`${path || 'value'} must be one of ${s.oneOf.join(', ')}`);
}

export function decodeFrom(r: Reader, s: Schema, parent?: Obj, path = ''): unknown {
  switch (s.k) {
    case 'u8': { const v = r.u8(path); if (s.oneOf && !s.oneOf.includes(v)) throw malformed(`${path} is ${v}, not one of ${s.oneOf.join(', ')}`); return v; }
    case 'u16': { const v = r.u16(path); if (s.oneOf && !s.oneOf.includes(v)) throw malformed(`${path} is ${v}, not one of ${s.oneOf.join(', ')}`); return v; }
    case 'u32': { const v = r.u32(path); if (s.oneOf && !s.oneOf.includes(v)) throw malformed(`${path} is ${v}, not one of ${s.oneOf.join(', ')}`); return v; }
    case 'i32': return r.i32(path);
    case 'u64': return r.u64(path);
    case 'fixed': return r.bytes(s.n, path);
    case 'buf': {
      const what = path || s.name;
      const n = s.len === 1 ? r.u8(what) : r.u16(what);
      if (n > s.max) throw malformed(`${path || s.name} claims ${n} bytes, more than the ${s.max} a ${s.name} can hold`);
      return r.bytes(n, path || s.name);
    }
    case 'sized': {
      const n = r.u16(path || s.name);
      if (n === 0) {
        if (s.allowEmpty) return null;
        throw malformed(`${path || s.name} is empty`);
      }
      const sub = r.sub(n, path || s.name);
      const v = decodeFrom(sub, s.inner, undefined, path || s.name);
      sub.done(path || s.name);
      return v;
    }
    case 'list': {
      const n = r.u32(path || s.name);
      if (n > s.max) throw malformed(`${path || s.name} claims ${n} entries, more than the ${s.max} allowed`);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(decodeFrom(r, s.of, undefined, s.name));
      return out;
    }
    case 'struct': {
      const o: Obj = {};
      for (const [name, fs, label] of s.entries) o[name] = decodeFrom(r, fs, o, label);
      return o;
    }
    case 'union': {
      const sel = parent?.[s.selector];
      const c = typeof sel === 'number' ? (s.cases as Cases)[sel] : undefined;
      if (c === undefined) throw malformed(`${path || s.name}: selector ${s.selector}=0x${typeof sel === 'number' ? sel.toString(16) : '?'} is not valid here`);
      if (c === null) return null;
      return decodeFrom(r, c, undefined, path);
    }
  }
}

/** Marshals a value of a schema to bytes. Throws TPMMarshalError(TPM_BAD_VALUE) for values the schema does not allow. */
export function marshal<S extends Schema>(s: S, v: Infer<S>): Buffer {
  const w = new Writer();
  encodeInto(w, s, v);
  return w.finish();
}

/** Unmarshals exactly `bytes` as a value of the schema; trailing bytes are an error. */
export function unmarshal<S extends Schema>(s: S, bytes: Uint8Array): Infer<S> {
  if (!(bytes instanceof Uint8Array)) throw malformed('input is not a byte array');
  const r = new Reader(bytes);
  const v = decodeFrom(r, s);
  r.done(s.k === 'struct' || s.k === 'sized' || s.k === 'list' || s.k === 'buf' || s.k === 'union' ? s.name : s.k);
  return v as Infer<S>;
}

/** Unmarshals a value from the front of `r`, leaving the reader after it. */
export function read<S extends Schema>(r: Reader, s: S): Infer<S> {
  return decodeFrom(r, s) as Infer<S>;
}

export { malformed as malformedError };

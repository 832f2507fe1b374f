// Byte helpers for TPM wire fragments (big-endian, TPM2B = u16 size ‖ bytes) and a bounds-checked
// reader whose every overrun is a typed MALFORMED error naming the structure being read.
import { invalidArgument, malformed } from './errors.ts';

export function concat(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

export function u16(v: number): Uint8Array {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw invalidArgument(`${v} does not fit in 16 bits.`);
  return new Uint8Array([v >>> 8, v & 0xff]);
}

export function u32(v: number): Uint8Array {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalidArgument(`${v} does not fit in 32 bits.`);
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

/** TPM2B encoding: u16 size ‖ bytes. */
export function tpm2b(b: Uint8Array): Uint8Array {
  if (b.length > 0xffff) throw invalidArgument(`A TPM2B cannot hold ${b.length} bytes (limit 65535).`);
  return concat(u16(b.length), b);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw invalidArgument('Expected an even-length hexadecimal string.');
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Copies into a plain Uint8Array, so callers never hold a view into a pooled Node Buffer. */
export function own(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

export function bytesToBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + toHex(b));
}

/** Big-endian, left-padded to len bytes; throws if the value does not fit. */
export function bigIntToBytes(v: bigint, len: number): Uint8Array {
  if (v < 0n) throw invalidArgument('Negative integers have no unsigned encoding.');
  let h = v.toString(16);
  if (h.length % 2) h = '0' + h;
  if (h.length / 2 > len) throw invalidArgument(`Integer does not fit in ${len} bytes.`);
  return fromHex(h.padStart(len * 2, '0'));
}

/** Strips leading zero bytes and left-pads to len; a value with more significant bytes is refused. */
export function fitUnsigned(b: Uint8Array, len: number, what: string): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  const sig = b.subarray(i);
  if (sig.length > len) throw invalidArgument(`${what} is ${sig.length} bytes; at most ${len} are allowed.`);
  const out = new Uint8Array(len);
  out.set(sig, len - sig.length);
  return out;
}

export class ByteReader {
  private off = 0;
  private readonly buf: Uint8Array;
  private readonly what: string;

  constructor(buf: Uint8Array, what: string) {
    this.buf = buf;
    this.what = what;
  }

  get offset(): number { return this.off; }
  get remaining(): number { return this.buf.length - this.off; }

  bytes(n: number, field: string): Uint8Array {
    if (n > this.remaining) {
      throw malformed(`${this.what} is truncated: ${field} needs ${n} bytes at offset ${this.off}, only ${this.remaining} remain.`,
        { structure: this.what, field, offset: this.off });
    }
    const out = this.buf.slice(this.off, this.off + n);
    this.off += n;
    return out;
  }

  u16(field: string): number {
    const b = this.bytes(2, field);
    return (b[0]! << 8) | b[1]!;
  }

  u32(field: string): number {
    const b = this.bytes(4, field);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  /** A TPM2B whose size must be ≤ max (the spec's buffer bound for that type). */
  tpm2b(field: string, max: number): Uint8Array {
    const at = this.off;
    const n = this.u16(`${field}.size`);
    if (n > max) {
      throw malformed(`${this.what} is malformed: ${field} claims ${n} bytes, more than its limit of ${max}.`,
        { structure: this.what, field, offset: at, size: n, max });
    }
    return this.bytes(n, field);
  }

  end(): void {
    if (this.remaining !== 0) {
      throw malformed(`${this.what} has ${this.remaining} unexpected trailing bytes at offset ${this.off}.`,
        { structure: this.what, offset: this.off, trailing: this.remaining });
    }
  }
}

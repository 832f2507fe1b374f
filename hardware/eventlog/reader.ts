// A bounds-checked little-endian cursor over a log. Reads never allocate: byte runs are views into
// the input. Running past the end is EVENTLOG_TRUNCATED with the offset, never a RangeError.
import { EventLogError } from './errors.ts';

export class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
  readonly what: string;
  readonly bigEndian: boolean;

  constructor(buf: Buffer, what: string, opts: { start?: number; end?: number; bigEndian?: boolean } = {}) {
    this.buf = buf;
    this.pos = opts.start ?? 0;
    this.end = opts.end ?? buf.length;
    this.what = what;
    this.bigEndian = opts.bigEndian ?? false;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, field: string): void {
    if (n > this.end - this.pos) {
      throw new EventLogError('EVENTLOG_TRUNCATED', `The ${this.what} ends inside ${field} at offset ${this.pos} (${n} bytes needed, ${this.end - this.pos} left); the log was cut short or a length field is wrong.`, { details: { offset: this.pos, field } });
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.bigEndian ? this.buf.readUInt16BE(this.pos) : this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.bigEndian ? this.buf.readUInt32BE(this.pos) : this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A u64 that must fit in a safe integer (lengths and addresses we only report). */
  u64(field: string): number {
    this.need(8, field);
    const lo = this.bigEndian ? this.buf.readUInt32BE(this.pos + 4) : this.buf.readUInt32LE(this.pos);
    const hi = this.bigEndian ? this.buf.readUInt32BE(this.pos) : this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    if (hi > 0x1fffff) throw new EventLogError('EVENTLOG_MALFORMED', `The ${this.what} has ${field} = 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} at offset ${this.pos - 8}, too large to be a length.`, { details: { offset: this.pos - 8, field } });
    return hi * 0x100000000 + lo;
  }

  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

export function malformed(what: string, offset: number, why: string, details?: Record<string, unknown>): EventLogError {
  return new EventLogError('EVENTLOG_MALFORMED', `The ${what} is malformed at offset ${offset}: ${why}.`, { details: { offset, ...details } });
}

export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

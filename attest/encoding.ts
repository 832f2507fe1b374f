// Hostile-input guards shared by every parser in attest/: JSON with a size cap and a nesting-depth
// cap checked by a cheap scan BEFORE JSON.parse (so a 10 MB "[[[[…" never reaches recursive code),
// strict UTF-8, and strict base64. Each failure is an AttestError with a stable code.
import { AttestError } from './errors.ts';

export const DEFAULT_MAX_JSON_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_JSON_DEPTH = 64;
/** Values (see jsonTextLimits) in one document unless a caller says otherwise; about 120 MB parsed at worst. */
export const DEFAULT_MAX_JSON_VALUES = 1_000_000;

export interface JSONLimits {
  /** Largest accepted document in bytes (UTF-8). */
  maxBytes?: number;
  /** Deepest accepted nesting of arrays/objects. */
  maxDepth?: number;
  /** Most values (arrays, objects, elements and members) accepted; bounds the memory JSON.parse takes. */
  maxValues?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decodes UTF-8 strictly: malformed sequences are refused, not replaced. */
export function decodeUTF8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch (e) {
    throw new AttestError('ATTEST_UTF8_INVALID', `${what} is not valid UTF-8.`, 'denied', { cause: e });
  }
}

/**
 * One cheap pass over JSON text, before JSON.parse, for what would make parsing costly: nesting
 * deeper than `maxDepth` (recursive code downstream) or more than `maxValues` values (memory: a
 * 16 MiB file of `{},{},…` parses into 5.6 million objects and 680 MB). Values are counted by
 * `[`, `{` and `,` outside strings, an upper bound of the values and members parsed. String
 * contents are jumped over with indexOf. Stops at the first limit passed.
 */
export function jsonTextLimits(s: string, maxDepth: number, maxValues: number): 'depth' | 'values' | undefined {
  let depth = 0;
  let values = 0;
  let i = 0;
  const n = s.length;
  while (i < n) {
    const q = s.indexOf('"', i);
    const end = q < 0 ? n : q;
    for (let j = i; j < end; j++) {
      const c = s.charCodeAt(j);
      if (c === 0x2c) {
        if (++values > maxValues) return 'values';
      } else if (c === 0x5b || c === 0x7b) {
        if (++depth > maxDepth) return 'depth';
        if (++values > maxValues) return 'values';
      } else if (c === 0x5d || c === 0x7d) depth--;
    }
    if (q < 0) return undefined;
    // The closing quote is the next one preceded by an even number of backslashes.
    let k = q + 1;
    for (;;) {
      const e = s.indexOf('"', k);
      if (e < 0) return undefined; // unterminated string: JSON.parse reports it
      let p = e - 1;
      while (s.charCodeAt(p) === 0x5c) p--;
      if ((e - 1 - p) % 2 === 0) {
        i = e + 1;
        break;
      }
      k = e + 1;
    }
  }
  return undefined;
}

/** True when the text nests arrays/objects deeper than maxDepth (strings skipped). */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  return jsonTextLimits(text, maxDepth, Infinity) === 'depth';
}

/** Parses JSON from text or bytes under the size and depth caps. */
export function parseJSON(input: string | Uint8Array, what: string, limits: JSONLimits = {}): unknown {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_JSON_BYTES;
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  // A JS string's UTF-8 length is at most 3× its UTF-16 length; check the cheap bound first.
  const size = typeof input === 'string' ? (input.length * 3 <= maxBytes ? 0 : Buffer.byteLength(input, 'utf8')) : input.byteLength;
  if (size > maxBytes) {
    throw new AttestError('ATTEST_JSON_TOO_LARGE', `${what} is ${size} bytes, more than the ${maxBytes}-byte limit.`, 'denied', { details: { size, maxBytes } });
  }
  const maxValues = limits.maxValues ?? DEFAULT_MAX_JSON_VALUES;
  const text = typeof input === 'string' ? input : decodeUTF8(input, what);
  const over = jsonTextLimits(text, maxDepth, maxValues);
  if (over === 'depth') {
    throw new AttestError('ATTEST_JSON_TOO_DEEP', `${what} nests arrays/objects deeper than ${maxDepth} levels.`, 'denied', { details: { maxDepth } });
  }
  if (over === 'values') {
    throw new AttestError('ATTEST_JSON_TOO_MANY_VALUES', `${what} holds more than ${maxValues} JSON values (arrays, objects and their elements), the limit that keeps memory bounded.`, 'denied', { details: { maxValues } });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AttestError('ATTEST_JSON_INVALID', `${what} is not valid JSON: ${(e as Error).message}.`, 'denied', { cause: e });
  }
}

/**
 * Strict base64 decode (standard or URL-safe alphabet, padding optional as DSSE implementations
 * differ). Node's decoder silently skips whitespace and stray characters and stops at a stray
 * '='; any of those leaves the output shorter than the input length implies, so a length check
 * after one native decode catches them all, where Buffer.from alone would accept garbage.
 */
export function decodeBase64(s: unknown, what: string): Buffer {
  if (typeof s !== 'string') {
    throw new AttestError('ATTEST_BASE64_INVALID', `${what} must be a base64 string.`);
  }
  let padding = 0;
  while (padding < 2 && s.charCodeAt(s.length - 1 - padding) === 0x3d) padding++;
  const body = s.length - padding;
  if (body % 4 === 1 || (padding > 0 && s.length % 4 !== 0)) {
    throw new AttestError('ATTEST_BASE64_INVALID', `${what} has an impossible base64 length.`);
  }
  const out = Buffer.from(s, 'base64');
  if (out.length !== Math.floor((body * 3) / 4)) {
    throw new AttestError('ATTEST_BASE64_INVALID', `${what} contains characters that are not base64.`);
  }
  return out;
}

/** Checks strict base64 (see decodeBase64) and discards the bytes. */
export function checkBase64(s: unknown, what: string): void {
  decodeBase64(s, what);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

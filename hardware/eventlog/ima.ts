// Linux IMA runtime measurement logs, binary (binary_runtime_measurements) and ascii
// (ascii_runtime_measurements), including the per-bank variants (…_sha256) whose template hash is
// in that bank's algorithm. Each entry's template hash is checked against its template data; an
// entry is `trusted` only when it is. Templates: ima (d|n), ima-ng (d-ng|n-ng), ima-sig
// (d-ng|n-ng|sig), ima-buf (d-ng|n-ng|buf), ima-modsig (d-ng|n-ng|sig|d-modsig|modsig) decoded;
// others kept raw (their fields split, or, from ascii, not rebuildable: then unchecked).
import { TPM_ALG } from '../constants.ts';
import { EventLogError } from './errors.ts';
import { digest as hashOf, hashName, knownDigestSize } from './hash.ts';
import { IMA_LIMITS, resolveLimits, tooLarge, type EventLogLimits } from './limits.ts';
import { Reader, malformed, asBuffer } from './reader.ts';

export interface IMAFields {
  /** Algorithm of the file digest as the kernel names it (sha1, sha256, …; md5 for the old 'd'). */
  digestAlg: string;
  /** The file (or buffer) digest: all zero for a violation. */
  digest: Buffer;
  /** The file name hint (n / n-ng), or the buffer's name for ima-buf. */
  name: string;
  /** The security.ima signature (ima-sig, ima-modsig), when present. */
  signature?: Buffer;
  /** The measured buffer (ima-buf). */
  buf?: Buffer;
}

export interface IMAEntry {
  /** Position in the kernel's log (0-based), counting from `firstIndex`. */
  index: number;
  /** Byte offset of the entry in the input (a device that sends entries from N on starts there). */
  offset: number;
  pcr: number;
  /** TPM_ALG of the template hash (SHA-1 in the classic files, the bank's in …_sha256 etc.). */
  templateHashAlg: number;
  templateHash: Buffer;
  templateName: string;
  /** The bytes the kernel hashed into the template hash: the template data (for 'ima': the
   * digest and the name zero-padded to 256 bytes). Undefined when an ascii line of a template we
   * do not know cannot be rebuilt. */
  hashInput: Buffer | undefined;
  /** The template data fields as logged (length-prefixed in the binary form). */
  rawFields: Buffer[] | undefined;
  /** A measurement violation (open-writers / ToMToU): template hash all zero, and the kernel
   * extended all ones into the PCR instead. */
  violation: boolean;
  /** H(hashInput) equals templateHash; undefined when it cannot be checked (a violation, or an
   * unrebuildable ascii line). */
  templateHashValid: boolean | undefined;
  fields: IMAFields | undefined;
  /** The decoded fields may be relied on: the template hash checks and it is no violation. */
  trusted: boolean;
}

export interface IMALog {
  format: 'binary' | 'ascii';
  templateHashAlg: number;
  /** Byte order of the binary log (native to the machine unless ima_canonical_fmt). */
  bigEndian: boolean;
  entries: IMAEntry[];
}

export interface IMAParseOptions {
  /** Index of the first entry given (a verifier that has seen 0..n-1 asks for n..). Default 0. */
  firstIndex?: number;
  /** TPM_ALG of the template hash: SHA-1 (default) for binary_runtime_measurements; the bank's
   * for binary_runtime_measurements_sha256 etc. Ascii logs infer it from the hash length. */
  templateHashAlg?: number;
  /** Binary logs only: byte order; default detected from the first entry's PCR field. */
  bigEndian?: boolean;
  limits?: Partial<EventLogLimits>;
}

/** IMA_EVENT_NAME_LEN_MAX + 1: the 'ima' template hashes its name in a buffer this large. */
const IMA_NAME_FIELD = 256;
const MAX_TEMPLATE_NAME = 255;

const KNOWN_FIELDS: Record<string, number> = { 'ima-ng': 2, 'ima-sig': 3, 'ima-buf': 3, 'ima-modsig': 5 };

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function checkIndexOpts(o: IMAParseOptions): { firstIndex: number; limits: EventLogLimits } {
  const firstIndex = o.firstIndex ?? 0;
  if (!Number.isSafeInteger(firstIndex) || firstIndex < 0) throw new EventLogError('EVENTLOG_STATE_INVALID', `firstIndex must be a non-negative integer, not ${String(firstIndex)}.`);
  return { firstIndex, limits: resolveLimits(IMA_LIMITS, o.limits) };
}

function templateAlg(alg: number | undefined): number {
  const a = alg ?? TPM_ALG.SHA1;
  if (!hashName(a)) throw new EventLogError('EVENTLOG_UNSUPPORTED', `Template hash algorithm 0x${a.toString(16)} is not one we can compute.`);
  return a;
}

/** Splits template data into its length-prefixed fields; undefined when they do not line up. */
function splitFields(data: Buffer, bigEndian: boolean): Buffer[] | undefined {
  const out: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    if (data.length - at < 4) return undefined;
    const len = bigEndian ? data.readUInt32BE(at) : data.readUInt32LE(at);
    if (len > data.length - at - 4) return undefined;
    out.push(data.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}

/** Valid d-ng prefixes seen (a log names a handful), to skip re-checking each entry's. */
const ALG_NAMES = new Map<string, string>();

/** d-ng: "<alg>:\0<digest>" (d-ngv2: "<type>:<alg>:\0<digest>"). */
function digestField(b: Buffer): { digestAlg: string; digest: Buffer } | undefined {
  const nul = b.indexOf(0);
  if (nul < 2 || nul > 64 || b[nul - 1] !== 0x3a) return undefined;
  const prefix = b.subarray(0, nul - 1).toString('latin1');
  let digestAlg = ALG_NAMES.get(prefix);
  if (digestAlg === undefined) {
    digestAlg = prefix.slice(prefix.lastIndexOf(':') + 1);
    if (!/^[a-z0-9_-]+$/.test(digestAlg)) return undefined;
    if (ALG_NAMES.size < 64) ALG_NAMES.set(prefix, digestAlg);
  }
  return { digestAlg, digest: b.subarray(nul + 1) };
}

/** A NUL-terminated name (n-ng). */
function nameField(b: Buffer): string | undefined {
  if (b.length === 0 || b[b.length - 1] !== 0) return undefined;
  return b.subarray(0, b.length - 1).toString('utf8');
}

function decodeFields(template: string, raw: Buffer[] | undefined): IMAFields | undefined {
  if (!raw || KNOWN_FIELDS[template] !== raw.length) return undefined;
  const d = digestField(raw[0]!);
  const name = nameField(raw[1]!);
  if (!d || name === undefined) return undefined;
  const f: IMAFields = { digestAlg: d.digestAlg, digest: d.digest, name };
  if (template === 'ima-sig' || template === 'ima-modsig') { if (raw[2]!.length) f.signature = raw[2]!; }
  if (template === 'ima-buf') f.buf = raw[2]!;
  return f;
}

/** What the 'ima' template hashes: the 20-byte digest, then the name zero-padded to 256 bytes. */
function imaHashInput(digest: Buffer, name: Buffer): Buffer {
  const b = Buffer.alloc(20 + IMA_NAME_FIELD);
  digest.copy(b, 0);
  name.copy(b, 20);
  return b;
}

function finish(e: Omit<IMAEntry, 'violation' | 'templateHashValid' | 'trusted'>): IMAEntry {
  const violation = isZero(e.templateHash);
  let templateHashValid: boolean | undefined;
  if (!violation && e.hashInput) templateHashValid = hashOf(e.templateHashAlg, e.hashInput).equals(e.templateHash);
  return {
    index: e.index, offset: e.offset, pcr: e.pcr, templateHashAlg: e.templateHashAlg, templateHash: e.templateHash, templateName: e.templateName, hashInput: e.hashInput,
    rawFields: e.rawFields, violation, templateHashValid, fields: e.fields, trusted: templateHashValid === true && !violation && e.fields !== undefined,
  };
}

// ------------------------------------------------------------------------------------------------
// Binary

/**
 * Parses binary_runtime_measurements (or a per-bank binary_runtime_measurements_<alg> with
 * `templateHashAlg`). Throws EventLogError: EVENTLOG_TRUNCATED, EVENTLOG_MALFORMED,
 * EVENTLOG_TOO_LARGE.
 */
export function parseIMABinary(bytes: Uint8Array, opts: IMAParseOptions = {}): IMALog {
  const { firstIndex, limits } = checkIndexOpts(opts);
  const alg = templateAlg(opts.templateHashAlg);
  const hsize = knownDigestSize(alg)!;
  if (!(bytes instanceof Uint8Array)) throw new EventLogError('EVENTLOG_MALFORMED', 'The IMA log must be bytes.');
  const buf = asBuffer(bytes);
  if (buf.length > limits.maxBytes) throw tooLarge(`IMA log (${buf.length} bytes)`, limits.maxBytes, 'bytes');
  let bigEndian = opts.bigEndian;
  if (bigEndian === undefined) {
    // The first field is the PCR index (10 unless the policy says otherwise): small either way.
    bigEndian = buf.length >= 4 && buf.readUInt32LE(0) > 31 && buf.readUInt32BE(0) <= 31;
  }
  const r = new Reader(buf, 'IMA log', { bigEndian });
  const entries: IMAEntry[] = [];
  let lastName: Buffer = Buffer.alloc(0);
  let lastTemplate = '';
  while (r.remaining > 0) {
    if (entries.length >= limits.maxEvents) throw tooLarge(`IMA log (more than ${limits.maxEvents} entries)`, limits.maxEvents, 'entries');
    const at = r.pos;
    const index = firstIndex + entries.length;
    const pcr = r.u32('PCR index');
    if (pcr > 31) throw malformed('IMA log', at, `entry ${index} names PCR ${pcr}`, { index });
    const templateHash = r.bytes(hsize, 'template hash');
    const nameLen = r.u32('template name length');
    if (nameLen < 1 || nameLen > MAX_TEMPLATE_NAME) throw malformed('IMA log', r.pos - 4, `entry ${index} has a template name of ${nameLen} bytes`, { index });
    const nameBytes = r.bytes(nameLen, 'template name');
    // Logs use one or two templates: reuse the last name instead of decoding and checking again.
    if (!lastName.equals(nameBytes)) {
      lastTemplate = nameBytes.toString('latin1');
      if (!/^[\x21-\x7e]+$/.test(lastTemplate)) throw malformed('IMA log', r.pos - nameLen, `entry ${index} has a template name that is not printable`, { index });
      lastName = nameBytes;
    }
    const templateName = lastTemplate;
    if (templateName === 'ima') {
      // The 'ima' template has no template-data length: a 20-byte digest, then the name.
      const digest = r.bytes(20, 'ima digest');
      const len = r.u32('ima name length');
      if (len > IMA_NAME_FIELD - 1) throw malformed('IMA log', r.pos - 4, `entry ${index} has an 'ima' name of ${len} bytes (at most ${IMA_NAME_FIELD - 1})`, { index });
      const name = r.bytes(len, 'ima name');
      entries.push(finish({
        index, offset: at, pcr, templateHashAlg: alg, templateHash, templateName, hashInput: imaHashInput(digest, name), rawFields: [digest, name],
        fields: { digestAlg: 'sha1', digest, name: name.toString('utf8') },
      }));
      continue;
    }
    const len = r.u32('template data length');
    if (len > limits.maxEventSize) throw tooLarge(`IMA entry ${index} (${len} bytes of template data)`, limits.maxEventSize, 'bytes');
    const data = r.bytes(len, 'template data');
    const rawFields = splitFields(data, bigEndian);
    if (!rawFields && KNOWN_FIELDS[templateName] !== undefined) throw malformed('IMA log', at, `entry ${index}'s ${templateName} template data does not split into fields`, { index });
    entries.push(finish({ index, offset: at, pcr, templateHashAlg: alg, templateHash, templateName, hashInput: data, rawFields, fields: decodeFields(templateName, rawFields) }));
  }
  return { format: 'binary', templateHashAlg: alg, bigEndian, entries };
}

// ------------------------------------------------------------------------------------------------
// Ascii

const HEX = /^[0-9a-fA-F]*$/;
const ALG_BY_HASH_LEN: Record<number, number> = { 40: TPM_ALG.SHA1, 64: TPM_ALG.SHA256, 96: TPM_ALG.SHA384, 128: TPM_ALG.SHA512 };

function hexField(s: string, at: number, index: number, what: string): Buffer {
  if (s.length % 2 !== 0 || !HEX.test(s)) throw malformed('IMA log', at, `line ${index + 1}: ${what} is not hex`, { index });
  return Buffer.from(s, 'hex');
}

function fieldsToData(fields: Buffer[], bigEndian: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const l = Buffer.alloc(4);
    if (bigEndian) l.writeUInt32BE(f.length); else l.writeUInt32LE(f.length);
    parts.push(l, f);
  }
  return Buffer.concat(parts);
}

/** d-ng from its ascii form "<alg>:<hex>". */
function asciiDigest(s: string, at: number, index: number): Buffer {
  const c = s.lastIndexOf(':');
  if (c < 1) throw malformed('IMA log', at, `line ${index + 1}: the file digest "${s.slice(0, 40)}" has no algorithm`, { index });
  return Buffer.concat([Buffer.from(s.slice(0, c + 1), 'latin1'), Buffer.from([0]), hexField(s.slice(c + 1), at, index, 'the file digest')]);
}

/**
 * Parses ascii_runtime_measurements (or …_<alg>). Lines are "PCR template-hash template-name
 * fields…". File names may contain spaces (a field after the name is hex, so it follows the
 * last space). Logs from big-endian machines hash big-endian lengths: both byte orders are tried.
 */
export function parseIMAAscii(input: Uint8Array | string, opts: IMAParseOptions = {}): IMALog {
  const { firstIndex, limits } = checkIndexOpts(opts);
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > limits.maxBytes) throw tooLarge(`IMA log (${size} bytes)`, limits.maxBytes, 'bytes');
  // latin1 keeps every byte as one char, so names rebuild to their exact bytes.
  const text = typeof input === 'string' ? Buffer.from(input, 'utf8').toString('latin1') : asBuffer(input).toString('latin1');
  const entries: IMAEntry[] = [];
  let alg = opts.templateHashAlg;
  let bigEndian: boolean | undefined;
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl);
    const at = pos;
    pos = nl + 1;
    if (line.length === 0 && pos >= text.length) break;
    const index = firstIndex + entries.length;
    if (entries.length >= limits.maxEvents) throw tooLarge(`IMA log (more than ${limits.maxEvents} entries)`, limits.maxEvents, 'entries');
    if (line.length > 2 * limits.maxEventSize + 512) throw tooLarge(`IMA log line ${entries.length + 1}`, 2 * limits.maxEventSize + 512, 'characters');
    const s1 = line.indexOf(' ');
    const s2 = line.indexOf(' ', s1 + 1);
    const s3 = line.indexOf(' ', s2 + 1);
    if (s1 < 1 || s2 < 0 || s3 < 0) throw malformed('IMA log', at, `line ${entries.length + 1} does not have "PCR template-hash template-name fields"`, { index });
    const pcrText = line.slice(0, s1);
    if (!/^[0-9]{1,2}$/.test(pcrText) || Number(pcrText) > 31) throw malformed('IMA log', at, `line ${entries.length + 1} names PCR "${pcrText.slice(0, 12)}"`, { index });
    const pcr = Number(pcrText);
    const hashHex = line.slice(s1 + 1, s2);
    if (alg === undefined) {
      alg = ALG_BY_HASH_LEN[hashHex.length];
      if (alg === undefined) throw malformed('IMA log', at, `line 1 has a template hash of ${hashHex.length} hex digits`, { index });
    }
    const hsize = knownDigestSize(templateAlg(alg))!;
    if (hashHex.length !== 2 * hsize) throw malformed('IMA log', at, `line ${entries.length + 1} has a template hash of ${hashHex.length} hex digits, not ${2 * hsize}`, { index });
    const templateHash = hexField(hashHex, at, index, 'the template hash');
    const templateName = line.slice(s2 + 1, s3);
    if (templateName.length === 0 || templateName.length > MAX_TEMPLATE_NAME || !/^[\x21-\x7e]+$/.test(templateName)) throw malformed('IMA log', at, `line ${entries.length + 1} has no valid template name`, { index });
    const rest = line.slice(s3 + 1);
    entries.push(asciiEntry({ index, pcr, alg, templateHash, templateName, rest, at }, () => bigEndian, (v) => { bigEndian = v; }));
  }
  return { format: 'ascii', templateHashAlg: alg ?? templateAlg(opts.templateHashAlg), bigEndian: bigEndian ?? false, entries };
}

interface AsciiLine { index: number; pcr: number; alg: number; templateHash: Buffer; templateName: string; rest: string; at: number }

function asciiEntry(l: AsciiLine, getBE: () => boolean | undefined, setBE: (v: boolean) => void): IMAEntry {
  const { index, pcr, alg, templateHash, templateName, rest, at } = l;
  // latin1 decoding keeps one character per byte, so the character offset is the byte offset.
  const base = { index, offset: at, pcr, templateHashAlg: alg, templateHash, templateName };
  const violation = isZero(templateHash);
  if (templateName === 'ima') {
    const sp = rest.indexOf(' ');
    if (sp < 0) throw malformed('IMA log', at, `line ${index + 1}: an 'ima' entry needs a digest and a name`, { index });
    const digest = hexField(rest.slice(0, sp), at, index, 'the file digest');
    const name = Buffer.from(rest.slice(sp + 1), 'latin1');
    if (digest.length !== 20 || name.length > IMA_NAME_FIELD - 1) throw malformed('IMA log', at, `line ${index + 1}: an 'ima' entry has a 20-byte digest and a name under 256 bytes`, { index });
    return finish({ ...base, hashInput: imaHashInput(digest, name), rawFields: [digest, name], fields: { digestAlg: 'sha1', digest, name: name.toString('utf8') } });
  }
  const n = KNOWN_FIELDS[templateName];
  if (n === undefined || n === 5) {
    // Not rebuildable from text (unknown fields, or ima-modsig's optional empty fields).
    return finish({ ...base, hashInput: undefined, rawFields: undefined, fields: undefined });
  }
  const sp = rest.indexOf(' ');
  const digestText = sp < 0 ? rest : rest.slice(0, sp);
  const d = asciiDigest(digestText, at, index);
  const after = sp < 0 ? '' : rest.slice(sp + 1);
  if (sp < 0 && n > 1) throw malformed('IMA log', at, `line ${index + 1}: a ${templateName} entry needs a name`, { index });
  // The name may contain spaces; the field after it is hex, so it starts after the last space.
  let name = after;
  let last: string | undefined;
  if (n > 2) {
    const s = after.lastIndexOf(' ');
    if (s < 0) throw malformed('IMA log', at, `line ${index + 1}: a ${templateName} entry needs a name and a ${templateName === 'ima-buf' ? 'buffer' : 'signature'} field`, { index });
    name = after.slice(0, s);
    last = after.slice(s + 1);
    if (last.length % 2 !== 0 || !HEX.test(last)) throw malformed('IMA log', at, `line ${index + 1}: the last field of a ${templateName} entry is not hex`, { index });
  }
  const fields = [d, Buffer.concat([Buffer.from(name, 'latin1'), Buffer.from([0])])];
  if (last !== undefined) fields.push(Buffer.from(last, 'hex'));
  // Big-endian machines hash big-endian field lengths: try both until one byte order matches.
  let first: IMAEntry | undefined;
  for (const be of getBE() === undefined ? [false, true] : [getBE()!]) {
    const e = finish({ ...base, hashInput: fieldsToData(fields, be), rawFields: fields, fields: decodeFields(templateName, fields) });
    first ??= e;
    if (e.templateHashValid) {
      setBE(be);
      return e;
    }
    if (violation) return e;
  }
  return first!;
}

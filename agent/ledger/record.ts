// One ledger record: a line of canonical JSON (canonical.ts) ending in '\n'.
//
//   {"data":{…},"hash":"…","prevHash":"…","seq":N,"time":{…},"type":"fetch","v":1}
//
//   v         format version (1)
//   seq       0, 1, 2, … with no gaps; record 0 is always `ledger.created`
//   time      {clock, resetCount, restartCount, safe} from TPM2_ReadClock (clock in ms as a decimal
//             string: it is a UINT64) and `wall`, the host's ISO 8601 UTC time. The TPM clock
//             cannot be set back by the host; wall time is for humans.
//   type      lower-case words separated by dots (decisions.ts lists the ones tollgate writes)
//   data      a JSON object, the event's details
//   prevHash  the previous record's hash (64 zeros for record 0)
//   hash      SHA-256 over the canonical JSON of all the other fields, hex
//
// A line is accepted only if it is valid UTF-8, parses, has exactly these fields with these types,
// and re-encodes to exactly its own bytes.
import { createHash } from 'node:crypto';
import { canonicalJSON } from './canonical.ts';
import { LedgerError } from './errors.ts';

export const LEDGER_FORMAT = 1;
/** The largest line (newline included) a record may take; also the most a torn tail can be. */
export const MAX_RECORD_BYTES = 64 * 1024;
export const ZERO_HASH = '0'.repeat(64);
const TYPE = /^[a-z][a-z0-9-]{0,31}(\.[a-z][a-z0-9-]{0,31}){0,3}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const WALL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

export interface LedgerTime {
  /** TPM clock, milliseconds (decimal string of a UINT64). */
  clock: string;
  resetCount: number;
  restartCount: number;
  safe: boolean;
  /** Host wall time, ISO 8601 UTC. */
  wall: string;
}

export interface LedgerRecord {
  v: number;
  seq: number;
  time: LedgerTime;
  type: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export type UnsignedRecord = Omit<LedgerRecord, 'hash'>;

const KEYS = ['data', 'hash', 'prevHash', 'seq', 'time', 'type', 'v'].join(',');
const TIME_KEYS = ['clock', 'resetCount', 'restartCount', 'safe', 'wall'].join(',');

export function recordHash(r: UnsignedRecord): string {
  const { v, seq, time, type, data, prevHash } = r;
  return createHash('sha256').update(canonicalJSON({ v, seq, time, type, data, prevHash })).digest('hex');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const u32 = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff;

/** Why `time` is not a valid LedgerTime, or undefined. */
function timeProblem(t: unknown): string | undefined {
  if (!isObject(t) || Object.keys(t).sort().join(',') !== TIME_KEYS) return 'time must have exactly clock, resetCount, restartCount, safe and wall';
  if (typeof t.clock !== 'string' || !/^(0|[1-9]\d{0,19})$/.test(t.clock) || BigInt(t.clock) > 0xffffffffffffffffn) return 'time.clock is not a UINT64 in decimal';
  if (!u32(t.resetCount) || !u32(t.restartCount)) return 'time.resetCount/restartCount are not UINT32';
  if (typeof t.safe !== 'boolean') return 'time.safe is not a boolean';
  if (typeof t.wall !== 'string' || !WALL.test(t.wall)) return 'time.wall is not an ISO 8601 UTC time';
  return undefined;
}

/** Builds the next record and its line; LEDGER_RECORD_INVALID for a bad type, data that has no JSON form, or a record over MAX_RECORD_BYTES. */
export function makeRecord(u: UnsignedRecord): { record: LedgerRecord; line: Buffer } {
  if (typeof u.type !== 'string' || !TYPE.test(u.type)) {
    throw new LedgerError('LEDGER_RECORD_INVALID', `Ledger record type ${JSON.stringify(u.type)} is not valid: use lower-case words separated by dots, e.g. "fetch" or "outbox.gap".`);
  }
  if (!isObject(u.data)) throw new LedgerError('LEDGER_RECORD_INVALID', `The data of a ${u.type} ledger record must be a JSON object.`);
  const tp = timeProblem(u.time);
  if (tp) throw new LedgerError('LEDGER_RECORD_INVALID', `The time of a ${u.type} ledger record is not valid: ${tp}.`);
  let hash: string;
  let text: string;
  try {
    hash = recordHash(u);
    text = canonicalJSON({ ...u, hash });
  } catch (e) {
    throw new LedgerError('LEDGER_RECORD_INVALID', `The data of a ${u.type} ledger record cannot be recorded: ${(e as Error).message}.`, { cause: e });
  }
  const line = Buffer.from(text + '\n', 'utf8');
  if (line.length > MAX_RECORD_BYTES) {
    throw new LedgerError('LEDGER_RECORD_INVALID', `A ${u.type} ledger record would take ${line.length} bytes; at most ${MAX_RECORD_BYTES} fit. Record a digest of large data instead.`);
  }
  return { record: { ...u, hash }, line };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether every object in `v` has its keys in canonical (UTF-16 code unit) order. */
function keysSorted(v: unknown): boolean {
  if (Array.isArray(v)) return v.every(keysSorted);
  if (typeof v !== 'object' || v === null) return true;
  const keys = Object.keys(v);
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) return false;
  return keys.every((k) => keysSorted((v as Record<string, unknown>)[k]));
}

/**
 * Parses one line (without its '\n') strictly. Returns the record and the canonical text its hash
 * is over, or why it is not a record. The hash is NOT checked here (replay.ts does, to tell an
 * altered record from a malformed one).
 */
export function parseRecordLine(line: Uint8Array): { record: LedgerRecord; unsigned: string } | { problem: string } {
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { problem: 'it is not UTF-8 text' };
  }
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return { problem: 'it is not JSON' };
  }
  if (!isObject(o) || Object.keys(o).sort().join(',') !== KEYS) return { problem: 'it does not have exactly the fields of a ledger record' };
  if (o.v !== LEDGER_FORMAT) return { problem: `its format version ${JSON.stringify(o.v)} is not ${LEDGER_FORMAT}` };
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 0) return { problem: 'its seq is not a non-negative integer' };
  if (typeof o.type !== 'string' || !TYPE.test(o.type)) return { problem: 'its type is not valid' };
  if (!isObject(o.data)) return { problem: 'its data is not an object' };
  if (typeof o.prevHash !== 'string' || !HEX64.test(o.prevHash) || typeof o.hash !== 'string' || !HEX64.test(o.hash)) return { problem: 'its hashes are not SHA-256 hex' };
  const tp = timeProblem(o.time);
  if (tp) return { problem: tp };
  const u = { data: o.data, prevHash: o.prevHash, seq: o.seq, time: o.time, type: o.type, v: o.v };
  // Fast path: JSON.parse keeps the text's key order (except integer-like keys, which then fail
  // the first test), so a line that re-serializes to itself with every object's keys in order IS
  // canonical, and so is the unsigned record serialized with its keys inserted in order.
  if (JSON.stringify(o) === text && keysSorted(o)) return { record: o as unknown as LedgerRecord, unsigned: JSON.stringify(u) };
  if (canonicalJSON(o) !== text) return { problem: 'it is not in canonical form (it was edited)' };
  return { record: o as unknown as LedgerRecord, unsigned: canonicalJSON(u) };
}

/** The sequence number of a line that may not be a valid record (for telling reordered from removed). */
export function seqOf(line: Uint8Array): number | undefined {
  try {
    const o = JSON.parse(Buffer.from(line).toString('utf8')) as unknown;
    return isObject(o) && Number.isSafeInteger(o.seq) ? o.seq as number : undefined;
  } catch {
    return undefined;
  }
}

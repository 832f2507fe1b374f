// What a verifier keeps per device between appraisals: the TPM clock and reset/restart counters of
// the last accepted quote (so time cannot go back and old evidence cannot be replayed as new), and
// the event-log replay state of that boot (so the next evidence need only carry the IMA entries
// added since). Small JSON; appraise() returns the next one to store.
import { eventlog } from '../../hardware/index.ts';
import { AppraiseError } from './errors.ts';

export interface AppraisalState {
  /** TPM clock (ms) of the last accepted quote. */
  clock: bigint;
  resetCount: number;
  restartCount: number;
  /** Replay state of that boot's logs, for incremental appraisal (absent when no log replayed). */
  logs?: {
    /** eventlog.PCRState.serialize() after the logs appraised so far. */
    pcrState: string;
    /** SHA-256 (hex) of the measured-boot log the state includes, when one was sent. */
    bootLogSha256?: string;
    /** The quoted PCRs the logs account for ("sha256:4"). */
    covered: string[];
  };
}

const FORMAT = 'tollgate-appraisal-state';
const MAX_STATE_BYTES = 1024 * 1024;

function bad(why: string): AppraiseError {
  return new AppraiseError('APPRAISE_STATE_INVALID', `The saved appraisal state cannot be used: ${why}. Use the file appraise wrote, or appraise without it (from the full logs).`);
}

export function serializeAppraisalState(s: AppraisalState): string {
  return JSON.stringify({
    format: FORMAT, version: 1, clock: s.clock.toString(), resetCount: s.resetCount, restartCount: s.restartCount,
    ...(s.logs ? { logs: s.logs } : {}),
  }, null, 2) + '\n';
}

const u32 = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

/** Parses serializeAppraisalState()'s output (APPRAISE_STATE_INVALID otherwise). */
export function parseAppraisalState(input: Uint8Array | string): AppraisalState {
  if (input.length > MAX_STATE_BYTES) throw bad(`it is larger than ${MAX_STATE_BYTES} bytes`);
  let j: unknown;
  try {
    j = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
  } catch {
    throw bad('it is not JSON');
  }
  const o = j as Record<string, unknown>;
  if (typeof j !== 'object' || j === null || Array.isArray(j) || o.format !== FORMAT || o.version !== 1) throw bad(`it is not a ${FORMAT} version 1 document`);
  for (const k of Object.keys(o)) if (!['format', 'version', 'clock', 'resetCount', 'restartCount', 'logs'].includes(k)) throw bad(`it has an unknown field ${JSON.stringify(k)}`);
  if (typeof o.clock !== 'string' || !/^\d{1,20}$/.test(o.clock) || BigInt(o.clock) > 0xffffffffffffffffn) throw bad('clock is not a 64-bit count');
  if (!u32(o.resetCount) || !u32(o.restartCount)) throw bad('resetCount and restartCount must be 32-bit counts');
  const s: AppraisalState = { clock: BigInt(o.clock), resetCount: o.resetCount, restartCount: o.restartCount };
  if (o.logs !== undefined) {
    const l = o.logs as Record<string, unknown>;
    if (typeof l !== 'object' || l === null || Array.isArray(l)) throw bad('logs is not an object');
    for (const k of Object.keys(l)) if (!['pcrState', 'bootLogSha256', 'covered'].includes(k)) throw bad(`logs has an unknown field ${JSON.stringify(k)}`);
    if (typeof l.pcrState !== 'string') throw bad('logs.pcrState is missing');
    try {
      eventlog.PCRState.deserialize(l.pcrState);
    } catch (e) {
      throw bad(`logs.pcrState: ${(e as Error).message}`);
    }
    if (l.bootLogSha256 !== undefined && (typeof l.bootLogSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(l.bootLogSha256))) throw bad('logs.bootLogSha256 is not a SHA-256 value');
    if (!Array.isArray(l.covered) || l.covered.length > 64 || !l.covered.every((c) => typeof c === 'string' && /^[a-z0-9_]+:\d{1,2}$/.test(c))) throw bad('logs.covered is not a list of "bank:pcr"');
    s.logs = { pcrState: l.pcrState, ...(l.bootLogSha256 !== undefined ? { bootLogSha256: l.bootLogSha256 as string } : {}), covered: l.covered as string[] };
  }
  return s;
}

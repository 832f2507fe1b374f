// Trusted time: the latest time the agent has trusted, bound to the TPM clock so that it keeps
// advancing while the TPM runs, and never goes backwards.
//
// Record (time.json): { wallMs, tpmClock, resetCount, restartCount } taken at the end of a
// successful update. On the next start:
//   same resetCount and restartCount, clock >= stored → floor = wallMs + (clock - tpmClock)
//   otherwise (reboot, TPM restart, clock reset)      → floor = wallMs (never backwards)
// The reference time for expiry checks is max(system time, floor); a system clock behind the floor
// is reported (TUF_CLOCK_BACKWARDS), not believed. The record is written only after a refresh
// verified with that reference time succeeded, so a clock set far forward cannot push the floor
// past the expiry of metadata the repository actually serves (that refresh fails as expired).
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.ts';

export interface TpmClockReading { clock: bigint; resetCount: number; restartCount: number; safe: boolean }

export interface TimeRecord { wallMs: number; tpmClock: string; resetCount: number; restartCount: number }

export interface TimeDecision {
  /** System (or injected) time. */
  nowMs: number;
  /** Floor derived from the record and the TPM clock (0 when no record). */
  floorMs: number;
  /** max(now, floor): what expiry is checked against. */
  referenceMs: number;
  /** How far the system clock is behind the floor (0 if not). */
  behindMs: number;
  /** True when the floor moved with the TPM clock (same boot of the TPM). */
  boundToClock: boolean;
  /** Why the record could not be used, if it could not. */
  recordProblem?: string;
}

/** Clock skew tolerated before a system clock behind the floor is reported. */
export const CLOCK_TOLERANCE_MS = 5_000;

export function parseTimeRecord(text: string): TimeRecord {
  const r = JSON.parse(text) as Partial<TimeRecord>;
  if (typeof r !== 'object' || r === null || !Number.isSafeInteger(r.wallMs) || typeof r.tpmClock !== 'string' || !/^\d{1,20}$/.test(r.tpmClock)
    || !Number.isSafeInteger(r.resetCount) || !Number.isSafeInteger(r.restartCount) || r.wallMs! < 0) {
    throw new Error('malformed time record');
  }
  return r as TimeRecord;
}

export function readTimeRecord(path: string): { record?: TimeRecord; problem?: string } {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? {} : { problem: `unreadable: ${(e as Error).message}` };
  }
  try { return { record: parseTimeRecord(text) }; } catch (e) { return { problem: (e as Error).message }; }
}

export function decideTime(nowMs: number, clock: TpmClockReading | undefined, rec: TimeRecord | undefined, problem?: string): TimeDecision {
  let floorMs = 0;
  let bound = false;
  if (rec) {
    floorMs = rec.wallMs;
    if (clock && clock.resetCount === rec.resetCount && clock.restartCount === rec.restartCount) {
      const stored = BigInt(rec.tpmClock);
      if (clock.clock >= stored) {
        floorMs = rec.wallMs + Number(clock.clock - stored);
        bound = true;
      }
    }
  }
  const referenceMs = Math.max(nowMs, floorMs);
  const behind = floorMs - nowMs;
  return { nowMs, floorMs, referenceMs, behindMs: behind > CLOCK_TOLERANCE_MS ? behind : 0, boundToClock: bound, ...(problem ? { recordProblem: problem } : {}) };
}

/** How far the reference time may run ahead of a TPM-bound floor before the record is renewed. */
export const TIME_RECORD_REFRESH_MS = 60_000;

/**
 * Whether to write a new record after a successful refresh: always when there is none or it is not
 * bound to this TPM boot (a reboot: the floor would otherwise stop advancing); otherwise only when
 * the reference time has moved more than a minute past the TPM-derived floor (clock drift, time
 * the TPM did not count). That keeps an fsync off most updates while the floor stays within a
 * minute of the truth.
 */
export function needsTimeRecord(d: TimeDecision): boolean {
  return !d.boundToClock || d.referenceMs - d.floorMs > TIME_RECORD_REFRESH_MS;
}

export function writeTimeRecord(path: string, wallMs: number, clock: TpmClockReading): TimeRecord {
  const rec: TimeRecord = { wallMs: Math.floor(wallMs), tpmClock: clock.clock.toString(), resetCount: clock.resetCount, restartCount: clock.restartCount };
  writeFileAtomic(path, JSON.stringify(rec) + '\n');
  return rec;
}

/** The system time, or TOLLGATE_NOW (ISO date or epoch ms) when set — tests set the clock back. */
export function systemNowMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.TOLLGATE_NOW;
  if (v === undefined || v === '') return Date.now();
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new RangeError(`TOLLGATE_NOW=${v} is neither an ISO date nor epoch milliseconds`);
  return n;
}

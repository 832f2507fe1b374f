// Caps that bound the memory a hostile log can make a parser use. Parsed events are views into the
// input (no copies), so memory is the input plus one small object per event: capping the input
// size and the event count bounds both.
import { EventLogError } from './errors.ts';

export interface EventLogLimits {
  /** Largest input accepted, in bytes. */
  maxBytes: number;
  /** Most events (TCG) or entries (IMA) accepted. */
  maxEvents: number;
  /** Largest single event data / IMA template data, in bytes. */
  maxEventSize: number;
}

/** Measured-boot logs: real ones are tens of KB with a few hundred events. */
export const TCG_LIMITS: Readonly<EventLogLimits> = { maxBytes: 32 * 1024 * 1024, maxEvents: 100_000, maxEventSize: 4 * 1024 * 1024 };

/** IMA logs grow with every file measured: a busy machine has a few hundred thousand entries. */
export const IMA_LIMITS: Readonly<EventLogLimits> = { maxBytes: 256 * 1024 * 1024, maxEvents: 2_000_000, maxEventSize: 1024 * 1024 };

export function resolveLimits(base: Readonly<EventLogLimits>, over: Partial<EventLogLimits> | undefined): EventLogLimits {
  const out = { ...base, ...over };
  for (const k of ['maxBytes', 'maxEvents', 'maxEventSize'] as const) {
    if (!Number.isSafeInteger(out[k]) || out[k] < 1) throw new EventLogError('EVENTLOG_STATE_INVALID', `Limit ${k} must be a positive integer, not ${String(out[k])}.`);
  }
  return out;
}

export function tooLarge(what: string, limit: number, unit: string): EventLogError {
  return new EventLogError('EVENTLOG_TOO_LARGE', `The ${what} exceeds the limit of ${limit} ${unit}; raise the limit only for a log you expect to be this large.`, { details: { limit } });
}

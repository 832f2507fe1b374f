// Typed errors of the event-log parsers and replay. Every failure of a log (bad structure, a cap
// exceeded, a replay that does not reach the quoted PCRs) is 'denied': the evidence fails. A saved
// replay state that does not load is the verifier's own problem ('usage').
import { TollgateError, type ErrorClass } from '../errors.ts';

export type EventLogErrorCode =
  | 'EVENTLOG_MALFORMED'
  | 'EVENTLOG_TRUNCATED'
  | 'EVENTLOG_TOO_LARGE'
  | 'EVENTLOG_UNSUPPORTED'
  | 'EVENTLOG_BANK_MISSING'
  | 'EVENTLOG_REPLAY_MISMATCH'
  | 'EVENTLOG_PREFIX_MISMATCH'
  | 'EVENTLOG_STATE_INVALID';

const CLASS: Record<EventLogErrorCode, ErrorClass> = {
  EVENTLOG_MALFORMED: 'denied',
  EVENTLOG_TRUNCATED: 'denied',
  EVENTLOG_TOO_LARGE: 'denied',
  EVENTLOG_UNSUPPORTED: 'denied',
  EVENTLOG_BANK_MISSING: 'denied',
  EVENTLOG_REPLAY_MISMATCH: 'denied',
  EVENTLOG_PREFIX_MISMATCH: 'denied',
  EVENTLOG_STATE_INVALID: 'usage',
};

export class EventLogError extends TollgateError {
  declare readonly code: EventLogErrorCode;
  constructor(code: EventLogErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CLASS[code], options);
    this.name = 'EventLogError';
  }
}

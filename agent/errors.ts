// Errors of the agent's own pipeline (the install gate and its configuration). Format and TPM
// errors come from attest/, tuf/ and hardware/ and keep their codes.
import { TollgateError, type ErrorClass } from '../hardware/index.ts';

export type GateErrorCode =
  | 'POLICY_DENY' // the gate ran and denied the target (exit 1)
  | 'GATE_CONFIG' // <state>/gate.json missing next to TUF state, unreadable or malformed, or a bad init target name
  | 'GATE_STAGING'; // the private staging directory or the final rename failed

export class GateError extends TollgateError {
  constructor(code: GateErrorCode, message: string, errorClass: ErrorClass, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, errorClass, options);
    this.name = 'GateError';
  }
}

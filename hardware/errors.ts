// The one error base every folder builds on: a stable code, a sentence a user can act on, and the
// class of failure that decides the CLI exit code (ARCHITECTURE.md: 1 denied/failed, 2 usage/config,
// 3 environment).

export type ErrorClass = 'denied' | 'usage' | 'environment';

const EXIT: Record<ErrorClass, number> = { denied: 1, usage: 2, environment: 3 };

export class TollgateError extends Error {
  readonly code: string;
  readonly errorClass: ErrorClass;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, errorClass: ErrorClass, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TollgateError';
    this.code = code;
    this.errorClass = errorClass;
    this.details = options?.details;
  }

  get exitCode(): number {
    return EXIT[this.errorClass];
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isTollgateError(e: unknown): e is TollgateError {
  return e instanceof TollgateError;
}

import { AttestError } from '../errors.ts';

// A version string that its ecosystem's grammar rejects. Callers decide what an unorderable version
// means for a finding; the parser never guesses.
export class VersionError extends AttestError {
  readonly scheme: string;
  readonly version: string;
  constructor(scheme: string, version: string, why: string) {
    const shown = version.length > 80 ? `${version.slice(0, 80)}…` : version;
    super('VERSION_INVALID', `${JSON.stringify(shown)} is not a valid ${scheme} version: ${why}.`, 'denied', { details: { scheme, version: shown } });
    this.name = 'VersionError';
    this.scheme = scheme;
    this.version = shown;
  }
}

/** Longest version string any ordering accepts: real versions are far shorter; this bounds hostile input. */
export const MAX_VERSION_LENGTH = 256;

export function checkLength(scheme: string, v: string): void {
  if (typeof v !== 'string') throw new VersionError(scheme, String(v), 'not a string');
  if (v.length === 0) throw new VersionError(scheme, v, 'empty');
  if (v.length > MAX_VERSION_LENGTH) throw new VersionError(scheme, v, `longer than ${MAX_VERSION_LENGTH} characters`);
}

/** Compares two strings of ASCII digits as unbounded non-negative integers (no BigInt needed). */
export function compareDigits(a: string, b: string): number {
  let i = 0;
  while (i < a.length - 1 && a.charCodeAt(i) === 48) i++;
  let j = 0;
  while (j < b.length - 1 && b.charCodeAt(j) === 48) j++;
  const la = a.length - i;
  const lb = b.length - j;
  if (la !== lb) return la < lb ? -1 : 1;
  for (; i < a.length; i++, j++) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

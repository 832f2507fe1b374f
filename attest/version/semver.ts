import { VersionError, checkLength, compareDigits } from './errors.ts';

// SemVer 2.0.0 precedence (semver.org §11): used for npm, crates.io and OSV SEMVER ranges, and, with
// the `v` prefix and `+incompatible` tolerated, for Go modules.

export interface SemVer {
  readonly major: string;
  readonly minor: string;
  readonly patch: string;
  /** Pre-release identifiers; empty for a release. */
  readonly prerelease: readonly string[];
  /** Build metadata: kept for display, ignored by precedence. */
  readonly build: readonly string[];
}

const NUM = /^(?:0|[1-9][0-9]*)$/;
const IDENT = /^[0-9A-Za-z-]+$/;
const DIGITS = /^[0-9]+$/;

function core(scheme: string, v: string, s: string): string {
  if (!NUM.test(s)) throw new VersionError(scheme, v, `"${s}" is not a number without leading zeros`);
  return s;
}

export function parseSemVer(v: string, scheme = 'SemVer'): SemVer {
  checkLength(scheme, v);
  let rest = v;
  let build: string[] = [];
  const plus = rest.indexOf('+');
  if (plus >= 0) {
    build = rest.slice(plus + 1).split('.');
    rest = rest.slice(0, plus);
    for (const b of build) if (!IDENT.test(b)) throw new VersionError(scheme, v, 'build metadata identifiers must be non-empty [0-9A-Za-z-]');
  }
  let prerelease: string[] = [];
  const dash = rest.indexOf('-');
  if (dash >= 0) {
    prerelease = rest.slice(dash + 1).split('.');
    rest = rest.slice(0, dash);
    for (const p of prerelease) {
      if (!IDENT.test(p)) throw new VersionError(scheme, v, 'pre-release identifiers must be non-empty [0-9A-Za-z-]');
      if (DIGITS.test(p) && !NUM.test(p)) throw new VersionError(scheme, v, `numeric pre-release identifier "${p}" has a leading zero`);
    }
  }
  const parts = rest.split('.');
  if (parts.length !== 3) throw new VersionError(scheme, v, 'expected MAJOR.MINOR.PATCH');
  return { major: core(scheme, v, parts[0]!), minor: core(scheme, v, parts[1]!), patch: core(scheme, v, parts[2]!), prerelease, build };
}

export function compareSemVer(a: SemVer, b: SemVer): number {
  const c = compareDigits(a.major, b.major) || compareDigits(a.minor, b.minor) || compareDigits(a.patch, b.patch);
  if (c !== 0) return c;
  // A release has higher precedence than any of its pre-releases.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return a.prerelease.length === b.prerelease.length ? 0 : a.prerelease.length === 0 ? 1 : -1;
  }
  const n = Math.min(a.prerelease.length, b.prerelease.length);
  for (let i = 0; i < n; i++) {
    const x = a.prerelease[i]!;
    const y = b.prerelease[i]!;
    const xn = DIGITS.test(x);
    const yn = DIGITS.test(y);
    let d: number;
    if (xn && yn) d = compareDigits(x, y);
    else if (xn) d = -1; // numeric identifiers sort below alphanumeric ones
    else if (yn) d = 1;
    else d = x < y ? -1 : x > y ? 1 : 0; // ASCII order
    if (d !== 0) return d;
  }
  return a.prerelease.length === b.prerelease.length ? 0 : a.prerelease.length < b.prerelease.length ? -1 : 1;
}

/**
 * Go module versions: canonical semver with a `v` prefix (OSV records drop it), `+incompatible` for
 * pre-module major versions (build metadata, so ignored), pseudo-versions are ordinary pre-releases.
 */
export function parseGoVersion(v: string): SemVer {
  checkLength('Go module', v);
  return parseSemVer(v.startsWith('v') ? v.slice(1) : v, 'Go module');
}

export function formatSemVer(s: SemVer): string {
  return `${s.major}.${s.minor}.${s.patch}${s.prerelease.length ? `-${s.prerelease.join('.')}` : ''}${s.build.length ? `+${s.build.join('.')}` : ''}`;
}

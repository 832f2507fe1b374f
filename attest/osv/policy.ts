import { PolicyError } from '../errors.ts';
import { SEVERITY_LEVELS, type SeverityLevel } from './cvss.ts';

// The `vulnerabilities` policy section:
// {
//   "maxSeverity": 6.9 | "none" | "low" | "medium" | "high" | "critical",   default "none"
//   "unknownSeverity": "fail" | "allow",      a finding with no usable severity; default "fail"
//   "unevaluable": "fail" | "ignore",         a package hit whose version cannot be ordered; default "fail"
//   "ignore": [{ "id": "GHSA-…" | "CVE-…", "expires": "2025-12-31" | RFC 3339, "reason": "…" }],
//   "vex": { "keys": […], "identities": […] } whose signed OpenVEX statements are believed; default: nobody
// }
// VEX is believed only from the signers named under "vex" (validated by attest/policy.ts, which
// also verifies the signatures): never from an unsigned document, never from the publisher just
// because it publishes — a publisher suppressing its own CVEs must be named here explicitly.
// `false` (or no "vex") believes no VEX; `true` is refused because it would name nobody.
// A finding fails when its severity is above maxSeverity (score when the policy gives a number,
// qualitative level when it gives a word).

export interface VulnerabilityIgnore {
  readonly id: string;
  readonly expires: Date;
  readonly reason: string | undefined;
}

export interface VulnerabilityPolicy {
  readonly maxSeverity: number | SeverityLevel;
  readonly unknownSeverity: 'fail' | 'allow';
  readonly unevaluable: 'fail' | 'ignore';
  readonly ignore: readonly VulnerabilityIgnore[];
  /** Signed VEX from the signers the policy names is honoured (the signers live in Policy.vexSigners). */
  readonly vex: boolean;
}

export const DEFAULT_VULNERABILITY_POLICY: VulnerabilityPolicy = Object.freeze({
  maxSeverity: 'none',
  unknownSeverity: 'fail',
  unevaluable: 'fail',
  ignore: Object.freeze([]),
  vex: false,
});

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function oneOf<T extends string>(v: unknown, path: string, options: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !options.includes(v as T)) throw new PolicyError(path, `must be one of ${options.map((o) => JSON.stringify(o)).join(', ')}`);
  return v as T;
}

/** Parses an expiry: a calendar date (ignored through the end of that UTC day) or an RFC 3339 date-time. */
function expiry(v: unknown, path: string): Date {
  if (typeof v !== 'string') throw new PolicyError(path, 'must be a date (YYYY-MM-DD) or an RFC 3339 date-time');
  let t: number;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) t = Date.parse(`${v}T00:00:00Z`) + 86_400_000;
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(v)) t = Date.parse(v);
  else t = NaN;
  if (Number.isNaN(t)) throw new PolicyError(path, 'must be a date (YYYY-MM-DD) or an RFC 3339 date-time');
  // Reject impossible calendar dates that Date.parse would roll over (2025-02-30).
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? t - 86_400_000 : Date.parse(v.slice(0, 10) + 'T00:00:00Z'));
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v.slice(0, 10)) throw new PolicyError(path, 'is not a real calendar date');
  return new Date(t);
}

const KEYS = ['maxSeverity', 'unknownSeverity', 'unevaluable', 'ignore', 'vex'];

export function validateVulnerabilityPolicy(value: unknown, path: string): VulnerabilityPolicy {
  if (value === undefined) return DEFAULT_VULNERABILITY_POLICY;
  if (!isObj(value)) throw new PolicyError(path, 'must be an object');
  for (const k of Object.keys(value)) if (!KEYS.includes(k)) throw new PolicyError(`${path}.${k}`, `is not a known setting (expected one of ${KEYS.join(', ')})`);
  let maxSeverity: number | SeverityLevel = 'none';
  const ms = value.maxSeverity;
  if (typeof ms === 'number') {
    if (!Number.isFinite(ms) || ms < 0 || ms > 10) throw new PolicyError(`${path}.maxSeverity`, 'must be a CVSS score between 0 and 10');
    maxSeverity = ms;
  } else if (ms !== undefined) maxSeverity = oneOf(ms, `${path}.maxSeverity`, SEVERITY_LEVELS, 'none');
  const ignore: VulnerabilityIgnore[] = [];
  if (value.ignore !== undefined) {
    if (!Array.isArray(value.ignore)) throw new PolicyError(`${path}.ignore`, 'must be an array');
    value.ignore.forEach((e: unknown, i: number) => {
      const p = `${path}.ignore[${i}]`;
      if (!isObj(e)) throw new PolicyError(p, 'must be an object with id and expires');
      for (const k of Object.keys(e)) if (!['id', 'expires', 'reason'].includes(k)) throw new PolicyError(`${p}.${k}`, 'is not a known setting (expected id, expires, reason)');
      if (typeof e.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(e.id)) throw new PolicyError(`${p}.id`, 'must be a vulnerability id such as GHSA-xxxx-xxxx-xxxx or CVE-2024-1234');
      if (e.expires === undefined) throw new PolicyError(`${p}.expires`, 'is required: every ignore entry must expire');
      if (e.reason !== undefined && typeof e.reason !== 'string') throw new PolicyError(`${p}.reason`, 'must be a string');
      ignore.push(Object.freeze({ id: e.id, expires: expiry(e.expires, `${p}.expires`), reason: e.reason as string | undefined }));
    });
  }
  if (value.vex === true) throw new PolicyError(`${path}.vex`, 'must name who may make VEX statements ({"keys": […]} and/or {"identities": […]}); true would believe anyone, and unsigned VEX is never believed');
  if (value.vex !== undefined && value.vex !== false && !isObj(value.vex)) throw new PolicyError(`${path}.vex`, 'must be false or an object naming the VEX signers ({"keys": […]}, {"identities": […]})');
  return Object.freeze({
    maxSeverity,
    unknownSeverity: oneOf(value.unknownSeverity, `${path}.unknownSeverity`, ['fail', 'allow'] as const, 'fail'),
    unevaluable: oneOf(value.unevaluable, `${path}.unevaluable`, ['fail', 'ignore'] as const, 'fail'),
    ignore: Object.freeze(ignore),
    vex: isObj(value.vex),
  });
}

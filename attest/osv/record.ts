import { OSVError } from './errors.ts';

// OSV 1.x records (ossf/osv-schema). Only the fields matching and policy use are type-checked; the
// rest (details, references, credits, database_specific…) is carried through untouched.

export type OSVEvent = { introduced: string } | { fixed: string } | { last_affected: string } | { limit: string };

export interface OSVRange {
  type: string; // 'SEMVER' | 'ECOSYSTEM' | 'GIT' (others are kept and reported as not evaluable)
  repo?: string;
  events: OSVEvent[];
}

export interface OSVSeverity {
  type: string; // 'CVSS_V2' | 'CVSS_V3' | 'CVSS_V4' | 'Ubuntu' | …
  score: string;
}

export interface OSVAffected {
  package?: { ecosystem: string; name: string; purl?: string };
  severity?: OSVSeverity[];
  ranges?: OSVRange[];
  versions?: string[];
  ecosystem_specific?: unknown;
  database_specific?: unknown;
}

export interface OSVRecord {
  schema_version?: string;
  id: string;
  modified?: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  related?: string[];
  summary?: string;
  details?: string;
  severity?: OSVSeverity[];
  affected?: OSVAffected[];
  database_specific?: unknown;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Error paths are built only when something is wrong: validation runs once per record of a
// database that may hold hundreds of thousands.
type Where = () => string;

function bad(where: Where | string, field: string | (() => string), why: string): never {
  const w = typeof where === 'string' ? where : where();
  const f = typeof field === 'string' ? field : field();
  throw new OSVError('OSV_RECORD_INVALID', `OSV record ${w}: ${f} ${why}.`, { where: w, field: f });
}

function optString(r: Record<string, unknown>, k: string, where: Where, field?: () => string): void {
  const v = r[k];
  if (v !== undefined && typeof v !== 'string') bad(where, field ?? k, 'must be a string');
}

function stringArray(v: unknown, where: Where, field: () => string): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) bad(where, field, 'must be an array of strings');
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') bad(where, () => `${field()}[${i}]`, 'must be a string');
}

function severities(v: unknown, where: Where, field: () => string): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) bad(where, field, 'must be an array');
  for (let i = 0; i < v.length; i++) {
    const s = v[i];
    if (!isObj(s) || typeof s.type !== 'string' || typeof s.score !== 'string') bad(where, () => `${field()}[${i}]`, 'must be {type: string, score: string}');
  }
}

const EVENT_KEYS = ['introduced', 'fixed', 'last_affected', 'limit'];

/**
 * Checks one record's shape in place and returns it typed. `where` names the record in errors
 * (e.g. "#1234" or its id once known).
 */
export function validateOSVRecord(raw: unknown, where: string): OSVRecord {
  if (!isObj(raw)) bad(where, 'record', 'must be a JSON object');
  const id = raw.id;
  if (typeof id !== 'string' || id === '') bad(where, 'id', 'must be a non-empty string');
  const w: Where = () => `${where} (${id.slice(0, 80)})`;
  optString(raw, 'schema_version', w);
  optString(raw, 'modified', w);
  optString(raw, 'published', w);
  optString(raw, 'withdrawn', w);
  optString(raw, 'summary', w);
  optString(raw, 'details', w);
  stringArray(raw.aliases, w, () => 'aliases');
  stringArray(raw.related, w, () => 'related');
  severities(raw.severity, w, () => 'severity');
  const affected = raw.affected;
  if (affected === undefined) return raw as unknown as OSVRecord;
  if (!Array.isArray(affected)) bad(w, 'affected', 'must be an array');
  for (let i = 0; i < affected.length; i++) {
    const a = affected[i];
    const f = () => `affected[${i}]`;
    if (!isObj(a)) bad(w, f, 'must be an object');
    const p = a.package;
    if (p !== undefined) {
      if (!isObj(p) || typeof p.ecosystem !== 'string' || typeof p.name !== 'string') bad(w, () => `${f()}.package`, 'must have string ecosystem and name');
      optString(p, 'purl', w, () => `${f()}.package.purl`);
    }
    severities(a.severity, w, () => `${f()}.severity`);
    stringArray(a.versions, w, () => `${f()}.versions`);
    const ranges = a.ranges;
    if (ranges === undefined) continue;
    if (!Array.isArray(ranges)) bad(w, () => `${f()}.ranges`, 'must be an array');
    for (let j = 0; j < ranges.length; j++) {
      const r = ranges[j];
      const rf = () => `${f()}.ranges[${j}]`;
      if (!isObj(r) || typeof r.type !== 'string') bad(w, rf, 'must be an object with a string type');
      optString(r, 'repo', w, () => `${rf()}.repo`);
      const events = r.events;
      if (!Array.isArray(events)) bad(w, () => `${rf()}.events`, 'must be an array');
      for (let k = 0; k < events.length; k++) {
        const e = events[k];
        // The schema allows exactly one of the four event kinds per event object.
        if (!isObj(e)) bad(w, () => `${rf()}.events[${k}]`, 'must be an object');
        let kinds = 0;
        for (let q = 0; q < EVENT_KEYS.length; q++) {
          const key = EVENT_KEYS[q]!;
          const v = e[key];
          if (v !== undefined) {
            kinds++;
            if (typeof v !== 'string') bad(w, () => `${rf()}.events[${k}].${key}`, 'must be a string');
          }
        }
        if (kinds !== 1) bad(w, () => `${rf()}.events[${k}]`, 'must hold exactly one of introduced, fixed, last_affected, limit');
      }
    }
  }
  return raw as unknown as OSVRecord;
}

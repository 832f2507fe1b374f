import { orderings, VersionError, type VersionOrdering } from '../version/index.ts';
import type { OSVAffected, OSVEvent, OSVRange } from './record.ts';

// The OSV schema's evaluation algorithm ("Evaluation" in docs/schema.md): a version is affected if
// it equals an entry of `versions` or lies in any range. A range is walked in sorted event order
// (introduced "0" first); `introduced` ≤ v turns vulnerability on, `fixed` ≤ v or `last_affected`
// < v turns it off; with `limit` events, only versions below some limit are considered.
// GIT ranges need the repository's commit graph and are skipped with a reason.

export type AffectedResult =
  | { status: 'affected'; via: string }
  | { status: 'unaffected'; skipped: string[] }
  | { status: 'unknown'; why: string[] };

interface Sorted {
  kind: 'introduced' | 'fixed' | 'last_affected' | 'limit';
  raw: string;
  /** undefined for introduced "0" (below everything) and limit "*" (above everything). */
  parsed: unknown;
}

type Prepared = { ok: true; events: Sorted[]; limits: Sorted[] } | { ok: false; why: string };

// Parsed, sorted events per range and ordering, computed on first use: a database of hundreds of
// thousands of records costs nothing until one of its packages is actually in the SBOM.
const cache = new WeakMap<OSVRange, Map<string, Prepared>>();

function kindOf(e: OSVEvent): Sorted['kind'] {
  if ('introduced' in e) return 'introduced';
  if ('fixed' in e) return 'fixed';
  if ('last_affected' in e) return 'last_affected';
  return 'limit';
}

function prepare(range: OSVRange, ordering: VersionOrdering): Prepared {
  let per = cache.get(range);
  if (!per) cache.set(range, (per = new Map()));
  const hit = per.get(ordering.scheme);
  if (hit) return hit;
  let out: Prepared;
  try {
    const events: Sorted[] = [];
    const limits: Sorted[] = [];
    for (const e of range.events) {
      const kind = kindOf(e);
      const raw = (e as Record<string, string>)[kind]!;
      let parsed: unknown;
      if (kind === 'introduced' && raw === '0') parsed = undefined;
      else if (kind === 'limit' && raw === '*') parsed = undefined;
      else parsed = ordering.parse(raw);
      (kind === 'limit' ? limits : events).push({ kind, raw, parsed });
    }
    if (!events.some((e) => e.kind === 'introduced')) throw new Error('range has no introduced event');
    const cmp = (a: Sorted, b: Sorted): number => {
      if (a.parsed === undefined || b.parsed === undefined) {
        if (a.parsed === b.parsed) return 0;
        return a.parsed === undefined ? -1 : 1; // only introduced "0" is unparsed here
      }
      return ordering.compare(a.parsed, b.parsed);
    };
    events.sort(cmp); // stable: ties keep the record's order
    out = { ok: true, events, limits };
  } catch (e) {
    out = { ok: false, why: e instanceof VersionError ? e.message : (e as Error).message };
  }
  per.set(ordering.scheme, out);
  return out;
}

export function describeRange(range: OSVRange): string {
  return `${range.type} ${range.events.map((e) => `${kindOf(e)} ${(e as Record<string, string>)[kindOf(e)]}`).join(', ')}`;
}

function inRange(v: unknown, p: Prepared & { ok: true }, ordering: VersionOrdering): boolean {
  if (p.limits.length > 0) {
    // Implicit limit "*" only when there are no limit events.
    const below = p.limits.some((l) => l.parsed === undefined || ordering.compare(v, l.parsed) < 0);
    if (!below) return false;
  }
  let vulnerable = false;
  for (const e of p.events) {
    if (e.kind === 'introduced') {
      if (e.parsed === undefined || ordering.compare(v, e.parsed) >= 0) vulnerable = true;
    } else if (e.kind === 'fixed') {
      if (ordering.compare(v, e.parsed) >= 0) vulnerable = false;
    } else if (e.kind === 'last_affected') {
      if (ordering.compare(v, e.parsed) > 0) vulnerable = false;
    }
  }
  return vulnerable;
}

/**
 * Decides whether `version` of the package is affected per one `affected[]` entry.
 * `ecosystemOrdering` orders ECOSYSTEM ranges (undefined: the ecosystem has no ordering here).
 */
export function evaluateAffected(affected: OSVAffected, version: string, ecosystemOrdering: VersionOrdering | undefined): AffectedResult {
  const skipped: string[] = [];
  const unknown: string[] = [];
  const parsedCache = new Map<string, unknown>();
  const parseUnder = (o: VersionOrdering): unknown => {
    if (parsedCache.has(o.scheme)) return parsedCache.get(o.scheme);
    let p: unknown;
    try {
      p = o.parse(version);
    } catch (e) {
      p = e;
    }
    parsedCache.set(o.scheme, p);
    return p;
  };
  for (const listed of affected.versions ?? []) {
    if (listed === version) return { status: 'affected', via: `listed version ${listed}` };
  }
  if (ecosystemOrdering && affected.versions && affected.versions.length > 0) {
    const v = parseUnder(ecosystemOrdering);
    if (!(v instanceof Error)) {
      for (const listed of affected.versions) {
        try {
          if (ecosystemOrdering.compare(v, ecosystemOrdering.parse(listed)) === 0) return { status: 'affected', via: `listed version ${listed}` };
        } catch {
          // An unparsable listed version can still have matched by exact string above.
        }
      }
    }
  }
  for (const range of affected.ranges ?? []) {
    let ordering: VersionOrdering | undefined;
    if (range.type === 'GIT') {
      skipped.push(`GIT range${range.repo ? ` of ${range.repo}` : ''} not evaluated (needs the commit graph)`);
      continue;
    } else if (range.type === 'SEMVER') {
      ordering = ecosystemOrdering?.scheme === 'go' ? orderings.go : orderings.semver;
    } else if (range.type === 'ECOSYSTEM') {
      ordering = ecosystemOrdering;
      if (!ordering) {
        unknown.push(`ECOSYSTEM range ${describeRange(range)} cannot be ordered: no version ordering for this ecosystem`);
        continue;
      }
    } else {
      unknown.push(`range type ${JSON.stringify(range.type)} is not defined by the OSV schema`);
      continue;
    }
    const p = prepare(range, ordering);
    if (!p.ok) {
      unknown.push(`range ${describeRange(range)} has a version the ${ordering.scheme} ordering rejects: ${p.why}`);
      continue;
    }
    const v = parseUnder(ordering);
    if (v instanceof Error) {
      unknown.push(`version ${JSON.stringify(version)} cannot be ordered: ${v.message}`);
      continue;
    }
    if (inRange(v, p, ordering)) return { status: 'affected', via: `range ${describeRange(range)}` };
  }
  if (unknown.length > 0) return { status: 'unknown', why: unknown };
  return { status: 'unaffected', skipped };
}

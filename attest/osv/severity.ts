import { cvssBaseScore, levelOfScore, levelRank, type SeverityLevel } from './cvss.ts';
import type { OSVAffected, OSVRecord } from './record.ts';

// A finding's severity: every CVSS vector the record gives (package-level severity overrides the
// top-level one, per the schema), scored from the vector; plus the database's qualitative rating
// (GHSA-style database_specific.severity, Ubuntu priority). The highest of them counts.

export interface FindingSeverity {
  /** Highest computed CVSS base score, if any vector scored. */
  score: number | undefined;
  /** The vector that gave `score`. */
  scoreVector: string | undefined;
  /** Highest qualitative level from the score and the database ratings. */
  level: SeverityLevel | undefined;
  /** Database rating as written (e.g. "MODERATE"). */
  databaseRating: string | undefined;
  /** Vectors that could not be scored, with why. */
  problems: string[];
}

const DB_LEVEL: Record<string, SeverityLevel> = {
  none: 'none', negligible: 'low', low: 'low', moderate: 'medium', medium: 'medium', high: 'high', important: 'high', critical: 'critical',
};

function dbRating(v: unknown): string | undefined {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const s = (v as Record<string, unknown>).severity;
    if (typeof s === 'string' && DB_LEVEL[s.toLowerCase()]) return s;
  }
  return undefined;
}

export function findingSeverity(record: OSVRecord, affected: OSVAffected): FindingSeverity {
  const out: FindingSeverity = { score: undefined, scoreVector: undefined, level: undefined, databaseRating: undefined, problems: [] };
  const raise = (l: SeverityLevel): void => {
    if (out.level === undefined || levelRank(l) > levelRank(out.level)) out.level = l;
  };
  const list = affected.severity && affected.severity.length > 0 ? affected.severity : (record.severity ?? []);
  for (const s of list) {
    if (s.type === 'CVSS_V2' || s.type === 'CVSS_V3' || s.type === 'CVSS_V4') {
      try {
        const c = cvssBaseScore(s.score);
        if (out.score === undefined || c.baseScore > out.score) {
          out.score = c.baseScore;
          out.scoreVector = s.score;
        }
        raise(levelOfScore(c.baseScore));
      } catch (e) {
        out.problems.push(`${s.type} ${(e as Error).message}`);
      }
    } else if (s.type === 'Ubuntu' && DB_LEVEL[s.score.toLowerCase()]) {
      out.databaseRating ??= s.score;
      raise(DB_LEVEL[s.score.toLowerCase()]!);
    }
  }
  for (const r of [dbRating(affected.database_specific), dbRating(record.database_specific)]) {
    if (r) {
      out.databaseRating ??= r;
      raise(DB_LEVEL[r.toLowerCase()]!);
    }
  }
  return out;
}

export function describeSeverity(s: FindingSeverity): string {
  const parts: string[] = [];
  if (s.score !== undefined) parts.push(`CVSS ${s.score.toFixed(1)}`);
  if (s.databaseRating) parts.push(`database ${s.databaseRating}`);
  if (s.level) parts.push(s.level.toUpperCase());
  return parts.length ? parts.join(', ') : 'unknown severity';
}

import { VersionError, checkLength, compareDigits } from './errors.ts';

// Maven version order, as the POM reference's "Version Order Specification" defines it (what
// ComparableVersion implements): tokens split at '.', '-' and digit/non-digit transitions (a
// transition counts as '-'); empty tokens are 0; trailing null tokens (0, "", final, ga, release)
// are trimmed at the end and before each remaining '-'; comparison pads the shorter side with a
// null of the other side's prefix. Qualifier order: alpha < beta < milestone < rc = cr < snapshot
// < "" = final = ga = release < sp < any other qualifier (alphabetical).

export interface MavenToken {
  readonly prefix: '.' | '-';
  readonly numeric: boolean;
  /** Digits without leading zeros for numbers; lower-cased, alias-resolved text for qualifiers. */
  readonly value: string;
}

export interface MavenVersion {
  readonly tokens: readonly MavenToken[];
}

const KNOWN = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIAS: Record<string, string> = { cr: 'rc', ga: '', final: '', release: '' };

function qualifier(raw: string, followedByDigit: boolean): string {
  const q = ALIAS[raw] ?? raw;
  if (followedByDigit) {
    if (q === 'a') return 'alpha';
    if (q === 'b') return 'beta';
    if (q === 'm') return 'milestone';
  }
  return q;
}

function isNull(t: MavenToken): boolean {
  return t.numeric ? t.value === '0' : t.value === '';
}

export function parseMaven(v: string): MavenVersion {
  checkLength('Maven', v);
  if (/\s/.test(v)) throw new VersionError('Maven', v, 'contains whitespace');
  const s = v.toLowerCase();
  const tokens: MavenToken[] = [];
  let prefix: '.' | '-' = '.';
  let i = 0;
  // Walk separator-delimited pieces, splitting each at digit/non-digit transitions.
  while (i <= s.length) {
    let j = i;
    while (j < s.length && s[j] !== '.' && s[j] !== '-') j++;
    const piece = s.slice(i, j);
    if (piece === '') {
      tokens.push({ prefix, numeric: true, value: '0' });
    } else {
      let k = 0;
      let first = true;
      while (k < piece.length) {
        const digit = piece.charCodeAt(k) >= 48 && piece.charCodeAt(k) <= 57;
        let e = k;
        while (e < piece.length && (piece.charCodeAt(e) >= 48 && piece.charCodeAt(e) <= 57) === digit) e++;
        const raw = piece.slice(k, e);
        const p = first ? prefix : '-';
        if (digit) tokens.push({ prefix: p, numeric: true, value: raw.replace(/^0+(?=.)/, '') });
        else tokens.push({ prefix: p, numeric: false, value: qualifier(raw, e < piece.length) });
        first = false;
        k = e;
      }
    }
    if (j >= s.length) break;
    prefix = s[j] === '.' ? '.' : '-';
    i = j + 1;
  }
  // Trim trailing nulls, then repeat before each remaining '-' from the end toward the start.
  let end = tokens.length;
  const out: MavenToken[] = [];
  while (end > 0) {
    let start = end - 1;
    while (start > 0 && tokens[start]!.prefix !== '-') start--;
    const seg = tokens.slice(start, end);
    while (seg.length > 0 && isNull(seg[seg.length - 1]!)) {
      // The first token of the whole version stays (a version is never empty).
      if (start === 0 && seg.length === 1) break;
      seg.pop();
    }
    out.unshift(...seg);
    end = start;
  }
  return { tokens: out };
}

function compareQualifier(a: string, b: string): number {
  const ia = KNOWN.indexOf(a);
  const ib = KNOWN.indexOf(b);
  if (ia >= 0 || ib >= 0) {
    const ra = ia < 0 ? KNOWN.length : ia;
    const rb = ib < 0 ? KNOWN.length : ib;
    return ra === rb ? 0 : ra < rb ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

// ".qualifier" = "-qualifier" < "-number" < ".number"
function kindRank(t: MavenToken): number {
  if (!t.numeric) return 0;
  return t.prefix === '-' ? 1 : 2;
}

function compareToken(a: MavenToken, b: MavenToken): number {
  if (!a.numeric && !b.numeric) return compareQualifier(a.value, b.value);
  const ra = kindRank(a);
  const rb = kindRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  return compareDigits(a.value, b.value);
}

// Padding: a null shaped like the other side's token (0 against a number, "" against a qualifier).
function pad(other: MavenToken): MavenToken {
  return other.numeric ? { prefix: other.prefix, numeric: true, value: '0' } : { prefix: other.prefix, numeric: false, value: '' };
}

export function compareMaven(a: MavenVersion, b: MavenVersion): number {
  const n = Math.max(a.tokens.length, b.tokens.length);
  for (let i = 0; i < n; i++) {
    const x = a.tokens[i];
    const y = b.tokens[i];
    const d = compareToken(x ?? pad(y!), y ?? pad(x!));
    if (d !== 0) return d;
  }
  return 0;
}

import { VersionError, checkLength, compareDigits } from './errors.ts';

// Alpine apk versions: number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}. Ordering follows
// apk-tools: the versions are walked as typed tokens; while tokens have the same type their values
// decide; when one version ends or switches type first, the longer one is greater unless what
// follows is a pre-release suffix (_alpha, _beta, _pre, _rc). Non-leading number components with
// leading zeros compare as decimal fractions (1.02 < 1.1), as in apk-tools. A ~hash is not ordered.

type Kind = 'digit' | 'letter' | 'suffix' | 'suffixNo' | 'revision';
// Later kinds rank higher: a version that stops earlier is "more final" than one that continues.
const RANK: Record<Kind | 'end', number> = { digit: 1, letter: 2, suffix: 3, suffixNo: 4, revision: 5, end: 6 };

export interface ApkToken {
  readonly kind: Kind;
  /** Digit string for numeric kinds; char code for letters; suffix weight (alpha=-4 … rc=-1, cvs=0 … p=4). */
  readonly value: string | number;
}

export interface ApkVersion {
  readonly tokens: readonly ApkToken[];
  readonly hash: string;
}

const PRE = ['alpha', 'beta', 'pre', 'rc'];
const POST = ['cvs', 'svn', 'git', 'hg', 'p'];

function fail(v: string, why: string): never {
  throw new VersionError('Alpine apk', v, why);
}

export function parseApk(v: string): ApkVersion {
  checkLength('Alpine apk', v);
  const tokens: ApkToken[] = [];
  let i = 0;
  const digits = (): string => {
    const s = i;
    while (i < v.length && v.charCodeAt(i) >= 48 && v.charCodeAt(i) <= 57) i++;
    return v.slice(s, i);
  };
  const first = digits();
  if (first === '') fail(v, 'must start with a digit');
  tokens.push({ kind: 'digit', value: first });
  while (v[i] === '.') {
    i++;
    const d = digits();
    if (d === '') fail(v, 'empty number component');
    // Leading zeros: apk scores them as minus the count of zeros, then the rest as a new number.
    let z = 0;
    while (z < d.length && d[z] === '0') z++;
    if (z > 0) {
      tokens.push({ kind: 'digit', value: -z });
      // apk-tools reads an (empty) number after the zeros whenever anything follows, scoring it 0.
      if (z < d.length) tokens.push({ kind: 'digit', value: d.slice(z) });
      else if (i < v.length) tokens.push({ kind: 'digit', value: '0' });
    } else tokens.push({ kind: 'digit', value: d });
  }
  if (i < v.length && v.charCodeAt(i) >= 97 && v.charCodeAt(i) <= 122) {
    tokens.push({ kind: 'letter', value: v.charCodeAt(i) });
    i++;
  }
  while (v[i] === '_') {
    i++;
    let name = '';
    while (i < v.length && v.charCodeAt(i) >= 97 && v.charCodeAt(i) <= 122) name += v[i++];
    const pre = PRE.indexOf(name);
    const post = POST.indexOf(name);
    if (pre < 0 && post < 0) fail(v, `unknown suffix "_${name}"`);
    tokens.push({ kind: 'suffix', value: pre >= 0 ? pre - PRE.length : post });
    const n = digits();
    if (n !== '') tokens.push({ kind: 'suffixNo', value: n });
  }
  let hash = '';
  if (v[i] === '~') {
    i++;
    const s = i;
    while (i < v.length && /[0-9a-f]/.test(v[i]!)) i++;
    hash = v.slice(s, i);
    if (hash === '') fail(v, 'empty ~hash');
  }
  if (v[i] === '-') {
    if (v[i + 1] !== 'r') fail(v, 'a "-" must start a -r revision');
    i += 2;
    const n = digits();
    if (n === '') fail(v, '-r needs a number');
    tokens.push({ kind: 'revision', value: n });
  }
  if (i !== v.length) fail(v, `unexpected "${v.slice(i, i + 10)}"`);
  return { tokens, hash };
}

function compareValue(a: ApkToken, b: ApkToken): number {
  if (typeof a.value === 'number' || typeof b.value === 'number') {
    const x = typeof a.value === 'number' ? a.value : Number.POSITIVE_INFINITY;
    const y = typeof b.value === 'number' ? b.value : Number.POSITIVE_INFINITY;
    // A leading-zero score (negative) is below any plain number; two plain numbers never get here.
    return x === y ? 0 : x < y ? -1 : 1;
  }
  return compareDigits(a.value, b.value);
}

export function compareApk(a: ApkVersion, b: ApkVersion): number {
  const n = Math.min(a.tokens.length, b.tokens.length);
  let i = 0;
  for (; i < n; i++) {
    const x = a.tokens[i]!;
    const y = b.tokens[i]!;
    if (x.kind !== y.kind) break;
    const d = compareValue(x, y);
    if (d !== 0) return d;
  }
  const x = a.tokens[i];
  const y = b.tokens[i];
  if (x === undefined && y === undefined) return 0;
  // The side that continues with a pre-release suffix is lower.
  if (x?.kind === 'suffix' && (x.value as number) < 0) return -1;
  if (y?.kind === 'suffix' && (y.value as number) < 0) return 1;
  const rx = RANK[x?.kind ?? 'end'];
  const ry = RANK[y?.kind ?? 'end'];
  return rx === ry ? 0 : rx > ry ? -1 : 1;
}

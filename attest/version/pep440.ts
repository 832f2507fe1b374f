import { VersionError, checkLength, compareDigits } from './errors.ts';

// PEP 440 versions (PyPI). Parsing accepts the spec's permitted spellings (case, separators, implicit
// numbers, `v` prefix, `-N` implicit post release) and normalises them, so `1.0rc1 == 1.0.0rc1`.
// Ordering: epoch, release (trailing zeros ignored), pre (a < b < rc; a dev-only release sorts
// before all its pre-releases), post, dev (before its non-dev peer), local (numeric > alphanumeric).

export interface Pep440Version {
  readonly epoch: string;
  readonly release: readonly string[];
  readonly pre: { readonly letter: 'a' | 'b' | 'rc'; readonly n: string } | null;
  readonly post: string | null;
  readonly dev: string | null;
  readonly local: readonly string[] | null;
}

const RE = new RegExp(
  '^\\s*v?' +
    '(?:([0-9]+)!)?' + // epoch
    '([0-9]+(?:\\.[0-9]+)*)' + // release
    '(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?' + // pre
    '(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?' + // post (implicit -N or spelled)
    '(?:[-_.]?(dev)[-_.]?([0-9]+)?)?' + // dev
    '(?:\\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?' + // local
    '\\s*$',
  'i',
);

const PRE: Record<string, 'a' | 'b' | 'rc'> = { a: 'a', alpha: 'a', b: 'b', beta: 'b', c: 'rc', rc: 'rc', pre: 'rc', preview: 'rc' };
const PRE_RANK = { a: 0, b: 1, rc: 2 } as const;

function strip0(d: string): string {
  let i = 0;
  while (i < d.length - 1 && d.charCodeAt(i) === 48) i++;
  return d.slice(i);
}

export function parsePep440(v: string): Pep440Version {
  checkLength('PEP 440', v);
  const m = RE.exec(v);
  if (!m) throw new VersionError('PEP 440', v, 'does not match the PEP 440 grammar');
  const pre = m[3] ? { letter: PRE[m[3].toLowerCase()]!, n: strip0(m[4] ?? '0') } : null;
  let post: string | null = null;
  if (m[5] !== undefined) post = strip0(m[5]);
  else if (m[6] !== undefined) post = strip0(m[7] ?? '0');
  const dev = m[8] !== undefined ? strip0(m[9] ?? '0') : null;
  const local = m[10] !== undefined ? m[10].toLowerCase().split(/[-_.]/).map((s) => (/^[0-9]+$/.test(s) ? strip0(s) : s)) : null;
  return { epoch: strip0(m[1] ?? '0'), release: m[2]!.split('.').map(strip0), pre, post, dev, local };
}

/** The normalised form (PEP 440 "Normalization"), e.g. `1.0RC1` → `1.0rc1`, `1.0-1` → `1.0.post1`. */
export function formatPep440(p: Pep440Version): string {
  let s = p.epoch !== '0' ? `${p.epoch}!` : '';
  s += p.release.join('.');
  if (p.pre) s += `${p.pre.letter}${p.pre.n}`;
  if (p.post !== null) s += `.post${p.post}`;
  if (p.dev !== null) s += `.dev${p.dev}`;
  if (p.local) s += `+${p.local.join('.')}`;
  return s;
}

function compareRelease(a: readonly string[], b: readonly string[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = compareDigits(a[i] ?? '0', b[i] ?? '0'); // trailing zeros are insignificant
    if (d !== 0) return d;
  }
  return 0;
}

// Pre-release key: -1 = "dev-only release, before every pre-release", +1 = "no pre-release".
function preKey(p: Pep440Version): number {
  if (p.pre) return 0;
  return p.post === null && p.dev !== null ? -1 : 1;
}

function compareLocal(a: readonly string[] | null, b: readonly string[] | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const xn = /^[0-9]+$/.test(x);
    const yn = /^[0-9]+$/.test(y);
    let d: number;
    if (xn && yn) d = compareDigits(x, y);
    else if (xn) d = 1; // numeric segments sort above alphanumeric ones
    else if (yn) d = -1;
    else d = x < y ? -1 : x > y ? 1 : 0;
    if (d !== 0) return d;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function comparePep440(a: Pep440Version, b: Pep440Version): number {
  let d = compareDigits(a.epoch, b.epoch) || compareRelease(a.release, b.release);
  if (d !== 0) return d;
  const ka = preKey(a);
  const kb = preKey(b);
  if (ka !== kb) return ka < kb ? -1 : 1;
  if (a.pre && b.pre) {
    d = PRE_RANK[a.pre.letter] - PRE_RANK[b.pre.letter] || compareDigits(a.pre.n, b.pre.n);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  // No post release sorts below any post release.
  if (a.post !== b.post) {
    if (a.post === null) return -1;
    if (b.post === null) return 1;
    d = compareDigits(a.post, b.post);
    if (d !== 0) return d;
  }
  // A dev release sorts below its non-dev counterpart.
  if (a.dev !== b.dev) {
    if (a.dev === null) return 1;
    if (b.dev === null) return -1;
    d = compareDigits(a.dev, b.dev);
    if (d !== 0) return d;
  }
  return compareLocal(a.local, b.local);
}

/** PEP 503 project-name normalisation, which PyPI and OSV use as the package identity. */
export function normalizePyPIName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

import { VersionError, checkLength, compareDigits } from './errors.ts';

// Debian package versions as dpkg orders them: [epoch:]upstream[-revision]. Epoch compares
// numerically; upstream and revision compare by alternating non-digit runs (letters sort before
// non-letters, '~' before everything including the end of the string) and digit runs (numeric).

export interface DebianVersion {
  readonly epoch: string;
  readonly upstream: string;
  readonly revision: string;
}

const UPSTREAM = /^[0-9][A-Za-z0-9.+~:-]*$/;
const REVISION = /^[A-Za-z0-9.+~]+$/;

export function parseDebian(v: string): DebianVersion {
  checkLength('Debian', v);
  const s = v.trim();
  if (s === '' || /\s/.test(s)) throw new VersionError('Debian', v, 'contains embedded whitespace');
  let epoch = '0';
  let rest = s;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    epoch = s.slice(0, colon);
    if (!/^[0-9]+$/.test(epoch)) throw new VersionError('Debian', v, 'epoch must be a number');
    rest = s.slice(colon + 1);
  }
  let revision = '';
  const dash = rest.lastIndexOf('-');
  if (dash >= 0) {
    revision = rest.slice(dash + 1);
    rest = rest.slice(0, dash);
    if (!REVISION.test(revision)) throw new VersionError('Debian', v, 'revision is empty or has characters other than [A-Za-z0-9.+~]');
  }
  if (rest === '') throw new VersionError('Debian', v, 'upstream version is empty');
  if (!UPSTREAM.test(rest)) throw new VersionError('Debian', v, 'upstream version must start with a digit and use only [A-Za-z0-9.+~:-]');
  return { epoch, upstream: rest, revision };
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

// dpkg's character weight: end of string and digits 0, '~' below that, letters by code, others after letters.
function weight(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126) return -1;
  return c + 256;
}

/** dpkg's verrevcmp over one part (upstream or revision). */
export function compareDebianPart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const wa = weight(a, i);
      const wb = weight(b, j);
      if (wa !== wb) return wa < wb ? -1 : 1;
      i++;
      j++;
    }
    let ei = i;
    while (ei < a.length && isDigit(a.charCodeAt(ei))) ei++;
    let ej = j;
    while (ej < b.length && isDigit(b.charCodeAt(ej))) ej++;
    const d = compareDigits(ei > i ? a.slice(i, ei) : '0', ej > j ? b.slice(j, ej) : '0');
    if (d !== 0) return d;
    i = ei;
    j = ej;
  }
  return 0;
}

export function compareDebian(a: DebianVersion, b: DebianVersion): number {
  return compareDigits(a.epoch, b.epoch) || compareDebianPart(a.upstream, b.upstream) || compareDebianPart(a.revision, b.revision);
}

export function formatDebian(d: DebianVersion): string {
  return `${d.epoch !== '0' ? `${d.epoch}:` : ''}${d.upstream}${d.revision ? `-${d.revision}` : ''}`;
}

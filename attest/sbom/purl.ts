import { SBOMError } from './errors.ts';

// Package URLs per the purl specification: pkg:type/namespace/name@version?qualifiers#subpath,
// parsed right-to-left as the spec's "how to parse" section describes, percent-decoded, with the
// type-specific case normalisation the purl types document requires.

export interface PackageURL {
  readonly type: string;
  /** Decoded namespace segments joined by '/', or undefined. */
  readonly namespace: string | undefined;
  readonly name: string;
  readonly version: string | undefined;
  readonly qualifiers: Readonly<Record<string, string>>;
  readonly subpath: string | undefined;
}

export const MAX_PURL_LENGTH = 4096;

function fail(purl: string, why: string): never {
  const shown = purl.length > 120 ? `${purl.slice(0, 120)}…` : purl;
  throw new SBOMError('PURL_INVALID', `${JSON.stringify(shown)} is not a valid package URL: ${why}.`, { details: { purl: shown } });
}

function decode(purl: string, s: string): string {
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) fail(purl, `bad percent-encoding in "${s}"`);
  try {
    return decodeURIComponent(s);
  } catch {
    return fail(purl, `percent-encoding in "${s}" is not UTF-8`);
  }
}

// Types whose namespace and name are case-insensitive and must be lower-cased.
const LOWER_NS_NAME = new Set(['alpm', 'apk', 'bitbucket', 'composer', 'deb', 'github', 'hex', 'luarocks', 'pypi']);
const LOWER_NS_ONLY = new Set(['rpm', 'qpkg']);

export function parsePurl(purl: string): PackageURL {
  if (typeof purl !== 'string') fail(String(purl), 'not a string');
  if (purl.length > MAX_PURL_LENGTH) fail(purl, `longer than ${MAX_PURL_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f]/.test(purl)) fail(purl, 'contains whitespace or control characters');
  let rest = purl;
  let subpath: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    const segs = rest
      .slice(hash + 1)
      .split('/')
      .filter((s) => s !== '' && s !== '.' && s !== '..')
      .map((s) => decode(purl, s));
    if (segs.some((s) => s === '.' || s === '..' || s.includes('/'))) fail(purl, 'subpath segment is "." or ".." or contains "/"');
    subpath = segs.length ? segs.join('/') : undefined;
    rest = rest.slice(0, hash);
  }
  const qualifiers: Record<string, string> = {};
  const q = rest.indexOf('?');
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq <= 0) fail(purl, `qualifier "${pair}" is not key=value`);
      const key = pair.slice(0, eq).toLowerCase();
      if (!/^[a-z._-][a-z0-9._-]*$/.test(key)) fail(purl, `qualifier key "${key}" has invalid characters`);
      if (Object.hasOwn(qualifiers, key)) fail(purl, `qualifier "${key}" appears twice`);
      const value = decode(purl, pair.slice(eq + 1));
      if (value !== '') Object.defineProperty(qualifiers, key, { value, enumerable: true, writable: false });
    }
    rest = rest.slice(0, q);
  }
  const colon = rest.indexOf(':');
  if (colon < 0 || rest.slice(0, colon).toLowerCase() !== 'pkg') fail(purl, 'scheme must be "pkg:"');
  rest = rest.slice(colon + 1).replace(/^\/+/, '').replace(/\/+$/, '');
  const slash = rest.indexOf('/');
  if (slash <= 0) fail(purl, 'missing type or name');
  const type = rest.slice(0, slash).toLowerCase();
  if (!/^[a-z.+-][a-z0-9.+-]*$/.test(type)) fail(purl, `type "${type}" has invalid characters`);
  rest = rest.slice(slash + 1);
  let version: string | undefined;
  const at = rest.lastIndexOf('@');
  // An '@' before the last '/' belongs to the namespace (an unencoded npm scope), not the version.
  if (at >= 0 && at > rest.lastIndexOf('/')) {
    version = decode(purl, rest.slice(at + 1));
    if (version === '') fail(purl, 'empty version after "@"');
    rest = rest.slice(0, at);
  }
  const segs = rest.split('/');
  const rawName = segs.pop()!;
  if (rawName === '') fail(purl, 'empty name');
  let name = decode(purl, rawName);
  const nsSegs = segs.filter((s) => s !== '').map((s) => decode(purl, s));
  if (nsSegs.some((s) => s.includes('/'))) fail(purl, 'namespace segment contains an encoded "/"');
  let namespace = nsSegs.length ? nsSegs.join('/') : undefined;
  if (LOWER_NS_NAME.has(type)) {
    namespace = namespace?.toLowerCase();
    name = name.toLowerCase();
  } else if (LOWER_NS_ONLY.has(type)) namespace = namespace?.toLowerCase();
  if (type === 'pypi') name = name.replace(/_/g, '-');
  if (type === 'maven' && namespace === undefined) fail(purl, 'maven purls need a namespace (the groupId)');
  return Object.freeze({ type, namespace, name, version, qualifiers: Object.freeze(qualifiers), subpath });
}

/** Parses, returning undefined instead of throwing (for optional purls in SBOMs). */
export function tryParsePurl(purl: string): PackageURL | undefined {
  try {
    return parsePurl(purl);
  } catch {
    return undefined;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s).replace(/%3A/gi, ':');
}

/** Canonical string form (qualifiers sorted, components encoded). */
export function formatPurl(p: PackageURL): string {
  let s = `pkg:${p.type}/`;
  if (p.namespace) s += `${p.namespace.split('/').map(enc).join('/')}/`;
  s += enc(p.name);
  if (p.version !== undefined) s += `@${enc(p.version)}`;
  const keys = Object.keys(p.qualifiers).sort();
  if (keys.length) s += `?${keys.map((k) => `${k}=${enc(p.qualifiers[k]!)}`).join('&')}`;
  if (p.subpath) s += `#${p.subpath.split('/').map(enc).join('/')}`;
  return s;
}

import { PolicyError } from '../errors.ts';
import { parseLicenseListEntry, type LicenseLeaf } from '../license/index.ts';
import { orderingForPurlType, normalizePyPIName, type VersionOrdering } from '../version/index.ts';
import type { SBOMFormat } from './model.ts';
import { parsePurl, type PackageURL } from './purl.ts';

// The `sbom` policy section:
// {
//   "required": false,                       an SBOM must accompany the artifact
//   "formats": ["cyclonedx", "spdx"],        accepted formats
//   "bindToArtifact": true,                  the artifact digest must be the described component's hash or the statement subject
//   "licenses": {
//     "allow": ["MIT", "Apache-2.0", "GPL-2.0-or-later WITH Classpath-exception-2.0"],
//     "deny":  ["AGPL-3.0-only"],
//     "noAssertion": "deny", "none": "deny", "missing": "deny", "unrecognized": "deny"
//                                            (each defaults to "deny" with an allow-list, "allow" without)
//   },
//   "deniedComponents": [
//     "pkg:npm/event-stream",                any version
//     "pkg:npm/@evil-scope/*",               '*' globs in namespace and name
//     { "purl": "pkg:maven/org.apache.logging.log4j/log4j-core", "versions": ">=2.0.0-beta9 <2.17.1", "reason": "Log4Shell" }
//   ],                                       versions: comparators (<, <=, >, >=, =, !=) ANDed by spaces, alternatives by "||",
//                                            ordered by the purl type's ecosystem (npm/cargo semver, golang, pypi PEP 440, maven, deb, apk)
//   "requiredFields": { "components": ["version", "purl", "license", "hash"], "document": ["author", "tool", "timestamp"] }
// }

export type ComponentField = 'version' | 'purl' | 'license' | 'hash';
export type DocumentField = 'author' | 'tool' | 'timestamp';
export type AllowDeny = 'allow' | 'deny';

export interface VersionComparator {
  readonly op: '<' | '<=' | '>' | '>=' | '=' | '!=';
  readonly version: unknown;
  readonly text: string;
}

export interface DeniedComponent {
  readonly pattern: PackageURL;
  readonly text: string;
  readonly namespaceGlob: RegExp | undefined;
  readonly nameGlob: RegExp;
  /** Alternatives (OR) of comparator lists (AND); undefined = every version. */
  readonly versions: readonly (readonly VersionComparator[])[] | undefined;
  readonly ordering: VersionOrdering | undefined;
  readonly reason: string | undefined;
}

export interface LicensePolicy {
  readonly allow: readonly LicenseLeaf[] | undefined;
  readonly deny: readonly LicenseLeaf[] | undefined;
  readonly noAssertion: AllowDeny;
  readonly none: AllowDeny;
  readonly missing: AllowDeny;
  readonly unrecognized: AllowDeny;
}

export interface SBOMPolicy {
  readonly required: boolean;
  readonly formats: readonly SBOMFormat[];
  readonly bindToArtifact: boolean;
  readonly licenses: LicensePolicy | undefined;
  readonly deniedComponents: readonly DeniedComponent[];
  readonly requiredFields: { readonly components: readonly ComponentField[]; readonly document: readonly DocumentField[] };
}

export const DEFAULT_SBOM_POLICY: SBOMPolicy = Object.freeze({
  required: false,
  formats: Object.freeze(['cyclonedx', 'spdx'] as SBOMFormat[]),
  bindToArtifact: true,
  licenses: undefined,
  deniedComponents: Object.freeze([]),
  requiredFields: Object.freeze({ components: Object.freeze([]), document: Object.freeze([]) }),
});

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(v: Record<string, unknown>, path: string, keys: readonly string[]): void {
  for (const k of Object.keys(v)) if (!keys.includes(k)) throw new PolicyError(`${path}.${k}`, `is not a known setting (expected one of ${keys.join(', ')})`);
}

function bool(v: unknown, path: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new PolicyError(path, 'must be true or false');
  return v;
}

function enumList<T extends string>(v: unknown, path: string, options: readonly T[]): T[] {
  if (!Array.isArray(v)) throw new PolicyError(path, `must be an array of ${options.map((o) => JSON.stringify(o)).join(', ')}`);
  return v.map((x, i) => {
    if (typeof x !== 'string' || !options.includes(x as T)) throw new PolicyError(`${path}[${i}]`, `must be one of ${options.map((o) => JSON.stringify(o)).join(', ')}`);
    return x as T;
  });
}

function licenseList(v: unknown, path: string): LicenseLeaf[] {
  if (!Array.isArray(v)) throw new PolicyError(path, 'must be an array of SPDX licence ids');
  return v.map((x, i) => {
    if (typeof x !== 'string') throw new PolicyError(`${path}[${i}]`, 'must be an SPDX licence id string');
    try {
      return parseLicenseListEntry(x);
    } catch (e) {
      throw new PolicyError(`${path}[${i}]`, (e as Error).message);
    }
  });
}

function allowDeny(v: unknown, path: string, dflt: AllowDeny): AllowDeny {
  if (v === undefined) return dflt;
  if (v !== 'allow' && v !== 'deny') throw new PolicyError(path, 'must be "allow" or "deny"');
  return v;
}

function glob(s: string): RegExp {
  return new RegExp(`^${s.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`, 's');
}

function parseVersions(s: string, path: string, ordering: VersionOrdering): VersionComparator[][] {
  const alts = s.split('||').map((a) => a.trim());
  return alts.map((alt) => {
    if (alt === '') throw new PolicyError(path, 'has an empty alternative around "||"');
    return alt.split(/\s+/).map((tok) => {
      const m = /^(<=|>=|!=|<|>|=)?(.+)$/.exec(tok)!;
      const op = (m[1] ?? '=') as VersionComparator['op'];
      try {
        return { op, version: ordering.parse(m[2]!), text: `${op}${m[2]}` };
      } catch (e) {
        throw new PolicyError(path, `${JSON.stringify(tok)}: ${(e as Error).message}`);
      }
    });
  });
}

function deniedComponent(v: unknown, path: string): DeniedComponent {
  let purlText: unknown;
  let versions: unknown;
  let reason: unknown;
  let purlPath = path;
  if (typeof v === 'string') purlText = v;
  else if (isObj(v)) {
    onlyKeys(v, path, ['purl', 'versions', 'reason']);
    purlText = v.purl;
    versions = v.versions;
    reason = v.reason;
    purlPath = `${path}.purl`;
    if (reason !== undefined && typeof reason !== 'string') throw new PolicyError(`${path}.reason`, 'must be a string');
  } else throw new PolicyError(path, 'must be a purl pattern string or {purl, versions?, reason?}');
  if (typeof purlText !== 'string') throw new PolicyError(purlPath, 'must be a purl pattern such as "pkg:npm/left-pad" or "pkg:npm/@scope/*"');
  let pattern: PackageURL;
  try {
    pattern = parsePurl(purlText);
  } catch (e) {
    throw new PolicyError(purlPath, (e as Error).message);
  }
  if (pattern.type.includes('*')) throw new PolicyError(purlPath, 'the purl type cannot be a glob');
  const ordering = orderingForPurlType(pattern.type);
  let parsedVersions: VersionComparator[][] | undefined;
  if (versions !== undefined) {
    if (typeof versions !== 'string' || versions.trim() === '') throw new PolicyError(`${path}.versions`, 'must be a version range such as ">=2.0.0 <2.17.1"');
    if (pattern.version !== undefined) throw new PolicyError(`${path}.versions`, 'cannot be combined with a version in the purl');
    if (!ordering) throw new PolicyError(`${path}.versions`, `purl type "${pattern.type}" has no version ordering here; list exact versions in the purl instead`);
    parsedVersions = parseVersions(versions, `${path}.versions`, ordering);
  } else if (pattern.version !== undefined && ordering) {
    parsedVersions = parseVersions(`=${pattern.version}`, purlPath, ordering);
  }
  return Object.freeze({
    pattern,
    text: typeof v === 'string' ? v : `${purlText}${versions ? ` ${versions}` : ''}`,
    namespaceGlob: pattern.namespace === undefined ? undefined : glob(pattern.namespace),
    nameGlob: glob(pattern.type === 'pypi' ? normalizePyPIName(pattern.name) : pattern.name),
    versions: parsedVersions,
    ordering,
    reason: reason as string | undefined,
  });
}

const SBOM_KEYS = ['required', 'formats', 'bindToArtifact', 'licenses', 'deniedComponents', 'requiredFields'];

export function validateSBOMPolicy(value: unknown, path: string): SBOMPolicy {
  if (value === undefined) return DEFAULT_SBOM_POLICY;
  if (!isObj(value)) throw new PolicyError(path, 'must be an object');
  onlyKeys(value, path, SBOM_KEYS);
  let licenses: LicensePolicy | undefined;
  if (value.licenses !== undefined) {
    const l = value.licenses;
    const lp = `${path}.licenses`;
    if (!isObj(l)) throw new PolicyError(lp, 'must be an object');
    onlyKeys(l, lp, ['allow', 'deny', 'noAssertion', 'none', 'missing', 'unrecognized']);
    const allow = l.allow === undefined ? undefined : licenseList(l.allow, `${lp}.allow`);
    const deny = l.deny === undefined ? undefined : licenseList(l.deny, `${lp}.deny`);
    const dflt: AllowDeny = allow ? 'deny' : 'allow';
    licenses = Object.freeze({
      allow,
      deny,
      noAssertion: allowDeny(l.noAssertion, `${lp}.noAssertion`, dflt),
      none: allowDeny(l.none, `${lp}.none`, dflt),
      missing: allowDeny(l.missing, `${lp}.missing`, dflt),
      unrecognized: allowDeny(l.unrecognized, `${lp}.unrecognized`, dflt),
    });
  }
  let denied: DeniedComponent[] = [];
  if (value.deniedComponents !== undefined) {
    if (!Array.isArray(value.deniedComponents)) throw new PolicyError(`${path}.deniedComponents`, 'must be an array');
    denied = value.deniedComponents.map((d, i) => deniedComponent(d, `${path}.deniedComponents[${i}]`));
  }
  let requiredFields: SBOMPolicy['requiredFields'] = DEFAULT_SBOM_POLICY.requiredFields;
  if (value.requiredFields !== undefined) {
    const r = value.requiredFields;
    const rp = `${path}.requiredFields`;
    if (!isObj(r)) throw new PolicyError(rp, 'must be an object');
    onlyKeys(r, rp, ['components', 'document']);
    requiredFields = Object.freeze({
      components: r.components === undefined ? [] : enumList(r.components, `${rp}.components`, ['version', 'purl', 'license', 'hash'] as const),
      document: r.document === undefined ? [] : enumList(r.document, `${rp}.document`, ['author', 'tool', 'timestamp'] as const),
    });
  }
  const formats = value.formats === undefined ? DEFAULT_SBOM_POLICY.formats : enumList(value.formats, `${path}.formats`, ['cyclonedx', 'spdx'] as const);
  if (formats.length === 0) throw new PolicyError(`${path}.formats`, 'must name at least one format');
  return Object.freeze({
    required: bool(value.required, `${path}.required`, false),
    formats: Object.freeze(formats),
    bindToArtifact: bool(value.bindToArtifact, `${path}.bindToArtifact`, true),
    licenses,
    deniedComponents: Object.freeze(denied),
    requiredFields,
  });
}

/** Whether a parsed component purl falls under a deny pattern. */
export function deniedMatch(d: DeniedComponent, c: PackageURL): boolean {
  const p = d.pattern;
  if (p.type !== c.type) return false;
  // A pattern without namespace names only packages without one ("pkg:npm/*" is not "pkg:npm/@scope/*").
  if (d.namespaceGlob ? c.namespace === undefined || !d.namespaceGlob.test(c.namespace) : c.namespace !== undefined) return false;
  if (!d.nameGlob.test(c.type === 'pypi' ? normalizePyPIName(c.name) : c.name)) return false;
  for (const [k, v] of Object.entries(p.qualifiers)) if (c.qualifiers[k] !== v) return false;
  if (d.versions) {
    if (c.version === undefined) return true; // unknown version: a denied package is denied
    if (!d.ordering) return p.version === c.version;
    let cv: unknown;
    try {
      cv = d.ordering.parse(c.version);
    } catch {
      return true; // an unorderable version cannot be shown to be outside the denied range
    }
    return d.versions.some((alt) =>
      alt.every((cmp) => {
        const r = d.ordering!.compare(cv, cmp.version);
        switch (cmp.op) {
          case '<': return r < 0;
          case '<=': return r <= 0;
          case '>': return r > 0;
          case '>=': return r >= 0;
          case '=': return r === 0;
          case '!=': return r !== 0;
        }
      }),
    );
  }
  if (p.version !== undefined) return p.version === c.version;
  return true;
}

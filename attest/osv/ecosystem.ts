import type { PackageURL } from '../sbom/purl.ts';
import { orderings, normalizePyPIName, type VersionOrdering } from '../version/index.ts';

// purl type → OSV ecosystem, the package name as OSV spells it, and the version ordering that
// ECOSYSTEM ranges use. Distro ecosystems are scoped by release (Debian:12, Alpine:v3.18) from the
// purl's `distro` qualifier; OSV names distro packages by source package, which SBOM generators put
// in the `upstream` qualifier when it differs from the binary package.

export interface EcosystemPackage {
  /** Ecosystem without release suffix, the index key ("npm", "Debian", "Alpine", …). */
  base: string;
  /** Release suffix the record's ecosystem must carry ("12" for Debian:12), or undefined = any. */
  release: string | undefined;
  name: string;
  ordering: VersionOrdering | undefined;
  /** The component version as OSV spells it (Go drops its leading "v"). */
  version: string | undefined;
}

const DEBIAN_CODENAMES: Record<string, string> = {
  hamm: '2', slink: '2.1', potato: '2.2', woody: '3.0', sarge: '3.1', etch: '4', lenny: '5', squeeze: '6', wheezy: '7',
  jessie: '8', stretch: '9', buster: '10', bullseye: '11', bookworm: '12', trixie: '13', forky: '14', sid: 'sid',
};

const BASE_ORDERING: Record<string, VersionOrdering | undefined> = {
  npm: orderings.semver,
  Go: orderings.go,
  'crates.io': orderings.semver,
  PyPI: orderings.pep440,
  Maven: orderings.maven,
  Debian: orderings.debian,
  Alpine: orderings.apk,
};

export function orderingForEcosystem(ecosystem: string): VersionOrdering | undefined {
  const c = ecosystem.indexOf(':');
  return BASE_ORDERING[c < 0 ? ecosystem : ecosystem.slice(0, c)];
}

/** Name normalisation applied to both OSV records and SBOM components before lookup. */
export function normalizePackageName(base: string, name: string): string {
  return base === 'PyPI' ? normalizePyPIName(name) : name;
}

function sourceName(p: PackageURL): string {
  const up = p.qualifiers.upstream;
  if (up) {
    // Some generators write "src@version" or "src (version)".
    const cut = up.search(/[@ (]/);
    const s = cut >= 0 ? up.slice(0, cut) : up;
    if (s) return s.toLowerCase();
  }
  return p.name;
}

function debianRelease(distro: string | undefined): string | undefined {
  if (!distro) return undefined;
  const d = distro.toLowerCase().replace(/^debian[-_:]?/, '');
  if (DEBIAN_CODENAMES[d]) return DEBIAN_CODENAMES[d];
  const m = /^([0-9]+)(?:\.[0-9]+)*$/.exec(d);
  return m ? m[1] : undefined;
}

function alpineRelease(distro: string | undefined): string | undefined {
  if (!distro) return undefined;
  const m = /^(?:alpine[-_:]?)?v?([0-9]+)\.([0-9]+)/i.exec(distro);
  return m ? `v${m[1]}.${m[2]}` : undefined;
}

/** Maps a parsed purl to its OSV package, or undefined when the purl type has no OSV ecosystem here. */
export function ecosystemOf(p: PackageURL): EcosystemPackage | undefined {
  const v = p.version;
  switch (p.type) {
    case 'npm':
      return { base: 'npm', release: undefined, name: p.namespace ? `${p.namespace}/${p.name}` : p.name, ordering: BASE_ORDERING.npm, version: v };
    case 'golang':
      return { base: 'Go', release: undefined, name: p.namespace ? `${p.namespace}/${p.name}` : p.name, ordering: BASE_ORDERING.Go, version: v };
    case 'cargo':
      return { base: 'crates.io', release: undefined, name: p.name, ordering: BASE_ORDERING['crates.io'], version: v };
    case 'pypi':
      return { base: 'PyPI', release: undefined, name: normalizePyPIName(p.name), ordering: BASE_ORDERING.PyPI, version: v };
    case 'maven':
      return { base: 'Maven', release: undefined, name: `${p.namespace}:${p.name}`, ordering: BASE_ORDERING.Maven, version: v };
    case 'deb':
      if (p.namespace !== 'debian') return undefined;
      return { base: 'Debian', release: debianRelease(p.qualifiers.distro), name: sourceName(p), ordering: BASE_ORDERING.Debian, version: v };
    case 'apk':
      if (p.namespace !== 'alpine') return undefined;
      return { base: 'Alpine', release: alpineRelease(p.qualifiers.distro), name: sourceName(p), ordering: BASE_ORDERING.Alpine, version: v };
    default:
      return undefined;
  }
}

/** Splits an OSV ecosystem string into base and release ("Debian:12" → Debian, 12; "Maven:https://…" → Maven, undefined). */
export function splitEcosystem(ecosystem: string): { base: string; release: string | undefined } {
  const c = ecosystem.indexOf(':');
  if (c < 0) return { base: ecosystem, release: undefined };
  const base = ecosystem.slice(0, c);
  // Maven/Packagist suffixes name a repository, not a release: they do not scope matching here.
  if (base === 'Debian' || base === 'Alpine') return { base, release: ecosystem.slice(c + 1) };
  return { base, release: undefined };
}

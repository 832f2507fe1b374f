// Version orderings, one module per ecosystem grammar. Every parser throws VersionError on input its
// grammar rejects; compare functions return -1, 0 or 1.
import { parseSemVer, compareSemVer, parseGoVersion, formatSemVer, type SemVer } from './semver.ts';
import { parsePep440, comparePep440, formatPep440, normalizePyPIName, type Pep440Version } from './pep440.ts';
import { parseMaven, compareMaven, type MavenVersion } from './maven.ts';
import { parseDebian, compareDebian, compareDebianPart, formatDebian, type DebianVersion } from './dpkg.ts';
import { parseApk, compareApk, type ApkVersion } from './apk.ts';

export { VersionError, MAX_VERSION_LENGTH, compareDigits } from './errors.ts';
export { parseSemVer, compareSemVer, parseGoVersion, formatSemVer, type SemVer };
export { parsePep440, comparePep440, formatPep440, normalizePyPIName, type Pep440Version };
export { parseMaven, compareMaven, type MavenVersion };
export { parseDebian, compareDebian, compareDebianPart, formatDebian, type DebianVersion };
export { parseApk, compareApk, type ApkVersion };

export type VersionScheme = 'semver' | 'go' | 'pep440' | 'maven' | 'debian' | 'apk';

export interface VersionOrdering<T = unknown> {
  readonly scheme: VersionScheme;
  parse(v: string): T;
  compare(a: T, b: T): number;
}

export const semverOrdering: VersionOrdering<SemVer> = { scheme: 'semver', parse: (v) => parseSemVer(v), compare: compareSemVer };
export const goOrdering: VersionOrdering<SemVer> = { scheme: 'go', parse: parseGoVersion, compare: compareSemVer };
export const pep440Ordering: VersionOrdering<Pep440Version> = { scheme: 'pep440', parse: parsePep440, compare: comparePep440 };
export const mavenOrdering: VersionOrdering<MavenVersion> = { scheme: 'maven', parse: parseMaven, compare: compareMaven };
export const debianOrdering: VersionOrdering<DebianVersion> = { scheme: 'debian', parse: parseDebian, compare: compareDebian };
export const apkOrdering: VersionOrdering<ApkVersion> = { scheme: 'apk', parse: parseApk, compare: compareApk };

export const orderings: Readonly<Record<VersionScheme, VersionOrdering>> = {
  semver: semverOrdering as VersionOrdering,
  go: goOrdering as VersionOrdering,
  pep440: pep440Ordering as VersionOrdering,
  maven: mavenOrdering as VersionOrdering,
  debian: debianOrdering as VersionOrdering,
  apk: apkOrdering as VersionOrdering,
};

/** Parses both strings under `scheme` and compares them (throws VersionError if either is invalid). */
export function compareVersions(scheme: VersionScheme, a: string, b: string): number {
  const o = orderings[scheme];
  return o.compare(o.parse(a), o.parse(b));
}

/** The version ordering a purl type's versions follow, or undefined when none is implemented. */
export function orderingForPurlType(type: string): VersionOrdering | undefined {
  switch (type) {
    case 'npm':
    case 'cargo':
      return orderings.semver;
    case 'golang':
      return orderings.go;
    case 'pypi':
      return orderings.pep440;
    case 'maven':
      return orderings.maven;
    case 'deb':
      return orderings.debian;
    case 'apk':
      return orderings.apk;
    default:
      return undefined;
  }
}

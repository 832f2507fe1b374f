// The format-neutral view of an SBOM that policy and vulnerability matching work on.

export type SBOMFormat = 'cyclonedx' | 'spdx';

export interface SBOMHash {
  /** Normalised algorithm name: sha1, sha256, sha384, sha512, sha3-256, md5, blake2b-256, … */
  readonly alg: string;
  /** Lower-case hex. */
  readonly value: string;
}

export interface SBOMComponent {
  readonly name: string;
  readonly version: string | undefined;
  readonly purl: string | undefined;
  /**
   * Licence information as written: SPDX ids or expressions, "NOASSERTION"/"NONE", or (CycloneDX
   * license.name) free-text names. Several entries apply together (AND).
   */
  readonly licenses: readonly string[];
  readonly hashes: readonly SBOMHash[];
  /** CycloneDX bom-ref or SPDX SPDXID. */
  readonly ref: string | undefined;
  readonly supplier: string | undefined;
  /** CycloneDX component type or "package"/"file" for SPDX. */
  readonly kind: string;
}

export interface SBOMDocument {
  readonly format: SBOMFormat;
  /** "1.4" | "1.5" | "1.6" for CycloneDX, "2.3" for SPDX. */
  readonly specVersion: string;
  /** CycloneDX serialNumber or SPDX documentNamespace. */
  readonly id: string | undefined;
  readonly name: string | undefined;
  readonly timestamp: string | undefined;
  readonly authors: readonly string[];
  readonly tools: readonly string[];
  /** What the SBOM is about: CycloneDX metadata.component; SPDX DESCRIBES targets (packages or files). */
  readonly described: readonly SBOMComponent[];
  /** Every other component (CycloneDX components, nested ones flattened; SPDX packages not described). */
  readonly components: readonly SBOMComponent[];
  /** Where it came from (file name, TUF target, attestation), for reasons. */
  readonly source: string;
}

const HASH_ALG: Record<string, string> = {
  'sha-1': 'sha1', sha1: 'sha1', 'sha-224': 'sha224', sha224: 'sha224', 'sha-256': 'sha256', sha256: 'sha256', 'sha-384': 'sha384', sha384: 'sha384',
  'sha-512': 'sha512', sha512: 'sha512', md5: 'md5', md4: 'md4', md2: 'md2', md6: 'md6',
};

export function normalizeHashAlg(alg: string): string {
  const a = alg.toLowerCase();
  return HASH_ALG[a] ?? a.replace(/_/g, '-');
}

/** Described components first, then the rest: what licence, purl and vulnerability checks look at. */
export function allComponents(doc: SBOMDocument): SBOMComponent[] {
  return [...doc.described.filter((c) => c.kind !== 'file'), ...doc.components];
}

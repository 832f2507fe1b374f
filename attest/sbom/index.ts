// SBOMs: CycloneDX 1.4–1.6 and SPDX 2.3 JSON, validated against the official schemas (vendored in
// schemas/), normalised to one model, bound to the artifact and checked against the SBOM policy.
export { parseSBOM, parseSBOMBytes, sbomFormatOfPredicateType, CYCLONEDX_PREDICATE_TYPE, SPDX_PREDICATE_TYPE, SUPPORTED_CYCLONEDX_VERSIONS, SUPPORTED_SPDX_VERSIONS, DEFAULT_SBOM_MAX_DEPTH, type ParseSBOMOptions } from './parse.ts';
export { checkSBOM, analyzeSBOMs, type CheckSBOMInput, type SBOMInput, type ArtifactDigests, type SBOMAnalysis } from './check.ts';
export { validateSBOMPolicy, deniedMatch, DEFAULT_SBOM_POLICY, type SBOMPolicy, type LicensePolicy, type DeniedComponent, type ComponentField, type DocumentField } from './policy.ts';
export { allComponents, normalizeHashAlg, type SBOMDocument, type SBOMComponent, type SBOMHash, type SBOMFormat } from './model.ts';
export { parsePurl, tryParsePurl, formatPurl, MAX_PURL_LENGTH, type PackageURL } from './purl.ts';
export { validateAgainstSchema, type SchemaName } from './schema.ts';
export { SchemaRegistry, valueDepthExceeds, formatPath, type SchemaIssue, type JSONSchema } from './jsonschema.ts';
export { SBOMError } from './errors.ts';

// attest/'s public surface: formats (DSSE, in-toto, Sigstore bundles, SLSA provenance, VSA), the
// policy, and the one verification entry, verifyArtifact().
export * from './check.ts';
export * from './errors.ts';
export { parseJSON, decodeBase64, decodeUTF8, DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_JSON_VALUES, type JSONLimits } from './encoding.ts';
export * from './limits.ts';
export { hashFile, hashBytes, parseDigestRef, isDigestAlgorithm, DIGEST_ALGORITHMS, type DigestAlgorithm, type DigestSet, type HashResult } from './digest.ts';
export {
  SIGNATURE_SCHEMES,
  isSignatureScheme,
  keyFingerprint,
  makeVerificationKey,
  parsePublicKeyPEM,
  verifySignature,
  verifySignatureOverDigest,
  type SignatureScheme,
  type VerificationKey,
} from './keys.ts';
export { pae, parseEnvelope, envelopeToJSON, verifyEnvelope, signEnvelope, softwareSigner, type Envelope, type EnvelopeJSON, type EnvelopeVerification, type Signer } from './dsse.ts';
export { INTOTO_PAYLOAD_TYPE, STATEMENT_V1, STATEMENT_V01, parseStatement, statementFromEnvelope, matchSubject, subjectAlgorithms, type Statement, type Subject, type SubjectMatch } from './intoto.ts';
export { loadTrustedRoot, publicGoodTrustedRoot, prevalidateTrustedRoot, type LoadedTrustedRoot } from './trusted-root.ts';
export { parseBundle, verifyBundle, identityMatches, type BundleVerification, type SigstoreContext } from './sigstore.ts';
export {
  SLSA_PROVENANCE_V02,
  SLSA_PROVENANCE_V1,
  GITHUB_ACTIONS_ISSUER,
  DEFAULT_ARTIFACT_BUILDERS,
  DEFAULT_IMAGE_BUILDERS,
  DEFAULT_TRUSTED_BUILDERS,
  TRUSTED_DELEGATORS,
  GITHUB_RUNNER_HOSTED,
  checkProvenance,
  provenanceFacts,
  isProvenance,
  normalizeGitUri,
  builderIdMismatch,
  versionedTagMismatch,
  type ProvenanceExpectations,
  type ProvenanceCheckOptions,
} from './slsa.ts';
export { fulcioClaims, type FulcioClaims } from './fulcio.ts';
export { npmRegistryKeys, NPM_PUBLISH_PREDICATE_PREFIX } from './npm.ts';
export { loadPolicy, validatePolicy, anchoredPattern, policyRequiresSomething, POLICY_VERSION, type Policy, type LoadedPolicy, type IdentityPolicy, type KeyPolicy, type SignaturePolicy, type VEXSigners } from './policy.ts';
export { buildVSA, signVSA, VSA_PREDICATE_TYPE, DEFAULT_VERIFIER_ID } from './vsa.ts';
export { parseEvidence, readEvidence, type EvidenceSource, type EvidenceItem, type ReadEvidenceOptions } from './evidence.ts';
export { verifyArtifact, registerExtraCheck, type VerifyOptions, type VerifyResult, type Expectations, type ArtifactInput, type ExtraCheck, type ExtraCheckInput, type VerifiedStatement } from './verify.ts';
export { supplyChainChecks } from './supply-chain.ts';
export { builtinEKRootStore, loadEKRootStore, readCADirectory, readCAFileAnchors } from './ekroots/index.ts';
// The SBOM, licence, OSV, VEX and version-ordering modules, as namespaces (their names overlap).
export * as sbom from './sbom/index.ts';
export * as license from './license/index.ts';
export * as osv from './osv/index.ts';
export * as vex from './vex/index.ts';
export * as version from './version/index.ts';
// Evidence formats (issue 9): CBOR/COSE_Sign1, the tollgate EAT profile, EAR attestation results,
// and evidence creation and appraisal.
export * as cose from './cose/index.ts';
export * as eat from './eat/index.ts';
export * as ear from './ear/index.ts';
export * as appraise from './appraise/index.ts';
export * as enrol from './enrol/index.ts';

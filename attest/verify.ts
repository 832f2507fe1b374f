// The one verification entry: artifact + evidence + policy → every check (passed, failed or not
// applicable, with the reason), the decision, and a VSA. Order matters for the single pass over
// the artifact: evidence is parsed first, so the file is hashed once with exactly the algorithms
// any bundle or subject offers. Only evidence whose signature verified against a trusted signer is
// ever used for provenance or SBOM decisions, and only VEX signed by a VEX signer the policy names
// can suppress a finding. Nothing trustworthy checked is never an allow: the decision is deny
// unless something was required (a policy that requires something, or expectations) AND the
// artifact was authenticated (a trusted signature, verified provenance, or — vouched for by the
// caller — signed TUF metadata). Unsigned SBOMs and VEX are information, not authentication.
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decision, failed, notApplicable, passed, type Check } from './check.ts';
import { AttestError } from './errors.ts';
import { hashFile, isDigestAlgorithm, isHexDigest, parseDigestRef, type DigestAlgorithm, type DigestSet } from './digest.ts';
import { parseEvidence, readEvidence, type EvidenceItem, type EvidenceSource } from './evidence.ts';
import { MAX_EVIDENCE_BYTES, MAX_EVIDENCE_ITEMS, MAX_OSV_BYTES, MAX_POLICY_BYTES, MAX_SBOM_BYTES, MAX_TRUSTED_ROOT_BYTES, MAX_VEX_BYTES } from './limits.ts';
import { formatCap, TollgateError } from '../hardware/index.ts';
import { bundleDigestAlgorithm, describeIdentity, UNTRUSTED_SIGNER_CODES, verifyBundle, type BundleVerification } from './sigstore.ts';
import { loadTrustedRoot, publicGoodTrustedRoot, type LoadedTrustedRoot } from './trusted-root.ts';
import { verifyEnvelope } from './dsse.ts';
import { INTOTO_PAYLOAD_TYPE, matchSubject, parseStatement, subjectAlgorithms, type Statement } from './intoto.ts';
import { keyFingerprint, type VerificationKey } from './keys.ts';
import { loadPolicy, policyRequiresSomething, type IdentityPolicy, type LoadedPolicy, type SignaturePolicy } from './policy.ts';
import { checkProvenance, DEFAULT_TRUSTED_BUILDERS, GITHUB_ACTIONS_ISSUER, isProvenance, parseBuilderId, type ProvenanceExpectations, type SignerIdentity } from './slsa.ts';
import { buildVSA, signVSA } from './vsa.ts';
import { isNpmPublishPredicate, verifyNpmPublish, type VerifiedPublish } from './npm.ts';
import { supplyChainChecks } from './supply-chain.ts';
import { verifyVEXEvidence, type TrustedVEX } from './vex/index.ts';
import type { EnvelopeJSON, Signer } from './dsse.ts';

/** The artifact: a file path, a `sha256:HEX` reference, or known digests. */
export type ArtifactInput = string | { sha256: string } | { digests: DigestSet; name?: string };

/** Expectations given directly (CLI flags), layered over the policy's. */
export interface Expectations {
  provenance?: ProvenanceExpectations;
  identities?: IdentityPolicy[];
  keys?: VerificationKey[];
}

/** A verified in-toto statement handed to SBOM/vulnerability checks. */
export interface VerifiedStatement {
  uri: string;
  statement: Statement;
  signer: string;
  /** The statement's subject names the artifact. */
  matchesArtifact: boolean;
}

/** Input for checks beyond signatures and provenance (attest/supply-chain.ts, callers' own). */
export interface ExtraCheckInput {
  artifactDigests: DigestSet;
  sboms: Array<{ uri: string; bytes: Uint8Array }>;
  statements: VerifiedStatement[];
  policy: LoadedPolicy | undefined;
  osvDatabase?: { uri: string; bytes: Uint8Array };
  /** VEX predicates signed by a VEX signer the policy names, about this artifact (attest/vex/signed.ts). */
  vex: TrustedVEX[];
  now: Date;
}
export type ExtraCheck = (input: ExtraCheckInput) => Check[] | Promise<Check[]>;

export interface VerifyOptions {
  artifact: ArtifactInput;
  bundles?: EvidenceSource[];
  attestations?: EvidenceSource[];
  sboms?: EvidenceSource[];
  /** A loaded policy, or its bytes (a TUF target) / path. */
  policy?: LoadedPolicy | EvidenceSource;
  /** A loaded trusted root, or its bytes (a TUF target) / path; default: the embedded public-good root. */
  trustedRoot?: LoadedTrustedRoot | EvidenceSource;
  expectations?: Expectations;
  osvDatabase?: EvidenceSource;
  /** OpenVEX attestations (DSSE envelopes / Sigstore bundles); believed only when signed by a VEX signer the policy names. */
  vex?: EvidenceSource[];
  /**
   * The caller vouches that the artifact's digest was authenticated by other means (the gate: it
   * matches signed TUF targets metadata), e.g. "TUF: … signed by the top-level targets role".
   */
  authenticatedBy?: string;
  now?: Date;
  /** Name of the artifact for the VSA (default: the file name or the digest). */
  resourceUri?: string;
  verifierId?: string;
  verifierVersion?: Record<string, string>;
  /** Signs the VSA when given. */
  vsaSigner?: Signer;
  /** Artifacts up to this size are kept in memory for message-signature checks (default 8 MiB). */
  keepBytesUpTo?: number;
  extraChecks?: ExtraCheck[];
}

export interface VerifyResult {
  decision: 'allow' | 'deny';
  checks: Check[];
  vsa: Statement;
  vsaEnvelope?: EnvelopeJSON;
  artifactDigests: DigestSet;
}

const registeredExtraChecks: ExtraCheck[] = [];
/** Lets a caller add checks to every verification (SBOM and vulnerability checks are built in). */
export function registerExtraCheck(c: ExtraCheck): void {
  if (!registeredExtraChecks.includes(c)) registeredExtraChecks.push(c);
}

interface Signed {
  /** Distinct-signer key: `id:<issuer>|<san>` or `key:<fingerprint>`. */
  signer: string;
  label: string;
  identityIndices?: number[];
  keyFingerprint?: string;
  identity?: SignerIdentity;
}

export async function verifyArtifact(opts: VerifyOptions): Promise<VerifyResult> {
  const now = opts.now ?? new Date();
  const checks: Check[] = [];

  // Policy and effective expectations.
  const policy = await resolvePolicy(opts.policy);
  checks.push(policy ? passed('policy', `policy ${policy.uri} (sha256:${policy.digest.sha256})`) : notApplicable('policy', 'no policy given; expectations come from the command line'));
  const provExp = effectiveProvenance(policy, opts.expectations);
  // slsa-verifier's rule when only SLSA expectations are given: trust GitHub Actions certificates,
  // for SLSA provenance only, and require the certificate to be the provenance's builder.
  const githubActionsRule = provExp !== undefined && effectiveSignaturePolicy(policy, opts.expectations) === undefined;
  const sigPolicy = githubActionsRule ? GITHUB_ACTIONS_POLICY : effectiveSignaturePolicy(policy, opts.expectations);
  if (githubActionsRule) {
    checks.push(
      passed(
        'signatures.github-actions',
        `no trusted identities or keys are configured, so as slsa-verifier does: certificates issued by ${GITHUB_ACTIONS_ISSUER} to a GitHub workflow are trusted for SLSA provenance only, and the certificate must be the provenance's builder (or a trusted delegator for it)`,
      ),
    );
  }

  // Evidence, parsed before hashing so the artifact is hashed once with every algorithm needed.
  const items = await readItems([...(opts.bundles ?? []), ...(opts.attestations ?? [])], (src) => (isBundleSource(src, opts) ? 'Sigstore bundle file' : 'attestation file'));
  const vexItems = await readItems(opts.vex ?? [], () => 'VEX document');
  const inputAttestations: Array<{ uri: string; digest: Record<string, string> }> = [];
  for (const item of [...items, ...vexItems]) if (item.digest) inputAttestations.push({ uri: item.uri, digest: item.digest });
  const algs = new Set<DigestAlgorithm>(['sha256']);
  let needBytes = false;
  for (const item of [...items, ...vexItems]) {
    if (item.kind === 'bundle') {
      const a = bundleDigestAlgorithm(item.bundle);
      if (a) {
        algs.add(a);
        needBytes = true;
      } else if (item.bundle.content.$case === 'dsseEnvelope') peekAlgorithms(item.bundle.content.dsseEnvelope.payloadType, item.bundle.content.dsseEnvelope.payload, algs);
    } else if (item.kind === 'envelope') peekAlgorithms(item.envelope.payloadType, item.envelope.payload, algs);
  }

  // The artifact.
  const art = await resolveArtifact(opts.artifact, algs, needBytes ? (opts.keepBytesUpTo ?? 8 * 1024 * 1024) : undefined);
  checks.push(passed('artifact.digest', `${art.name}: ${Object.entries(art.digests).map(([a, v]) => `${a}:${v}`).join(', ')}${art.size !== undefined ? ` (${art.size} bytes)` : ''}`));

  // Signatures.
  const bundleKeys = [...(policy?.keys ?? []), ...(opts.expectations?.keys ?? [])];
  const identities = sigPolicy?.identities ?? [];
  let root: LoadedTrustedRoot | undefined;
  const statements: Array<{ uri: string; statement: Statement; signed: Signed }> = [];
  const signers = new Map<string, Signed>();
  const npmPublished: VerifiedPublish[] = [];
  let bundleIndex = 0;
  let attIndex = 0;
  for (const item of items) {
    const id = item.kind === 'bundle' || (item.kind === 'error' && isBundleUri(item, opts)) ? `sigstore.bundle[${bundleIndex++}]` : `dsse.attestation[${attIndex++}]`;
    if (item.kind === 'error') {
      checks.push(failed(id, `${item.uri}: ${item.error.message}`, { uri: item.uri, code: item.error.code }));
      continue;
    }
    if (!sigPolicy) {
      checks.push(failed(id, `${item.uri}: no trusted identities or keys are configured, so its signature cannot be trusted (configure an identity or key, or SLSA expectations such as a source URI to trust GitHub Actions builders)`, { uri: item.uri }));
      continue;
    }
    if (item.kind === 'bundle' && isNpmPublishPredicate(item.npmPredicateType)) {
      // npm's registry vouches for name, version and tarball with its own key; never a signer of
      // the artifact's build, only evidence for the package checks.
      root ??= await resolveTrustedRoot(opts.trustedRoot);
      const v = verifyNpmPublish(id, item.uri, item.bundle, root, art.digests);
      checks.push(v.check);
      if (v.published) npmPublished.push(v.published);
      continue;
    }
    if (item.kind === 'bundle') {
      root ??= await resolveTrustedRoot(opts.trustedRoot);
      const r: BundleVerification = verifyBundle(item.bundle, {
        trustedRoot: root,
        identities,
        keys: bundleKeys,
        ...(sigPolicy.sigstore ? { options: sigPolicy.sigstore } : {}),
        artifact: { digests: art.digests, ...(art.bytes ? { bytes: art.bytes } : {}) },
      });
      if (!r.ok || !r.signer) {
        const details = { uri: item.uri, ...(r.code ? { code: r.code } : {}), mediaType: r.mediaType };
        // Evidence from a signer the policy does not trust is set aside, not held against the
        // artifact (an npm publish attestation next to the provenance, say); it is never used.
        if (r.code && UNTRUSTED_SIGNER_CODES.has(r.code)) checks.push({ ...notApplicable(id, `${item.uri}: ${r.reason}; not used`), details });
        else checks.push(failed(id, `${item.uri}: ${r.reason}`, details));
        continue;
      }
      const signed: Signed =
        r.signer.keyid !== undefined
          ? { signer: `key:${r.signer.fingerprint}`, label: `key ${r.signer.keyid}`, keyFingerprint: r.signer.fingerprint! }
          : {
              signer: `id:${r.signer.issuer}|${r.signer.subjectAlternativeName}`,
              label: `${r.signer.subjectAlternativeName} (${r.signer.issuer})`,
              identityIndices: r.signer.identityIndices ?? [],
              identity: {
                ...(r.signer.subjectAlternativeName !== undefined ? { subjectAlternativeName: r.signer.subjectAlternativeName } : {}),
                ...(r.signer.issuer !== undefined ? { issuer: r.signer.issuer } : {}),
                ...(r.signer.claims ? { claims: r.signer.claims } : {}),
              },
            };
      if (githubActionsRule && !(r.statement && isProvenance(r.statement))) {
        // A GitHub Actions certificate names whichever workflow ran; without a configured identity
        // only provenance, whose builder must be that workflow, can say anything about the artifact.
        checks.push({ ...notApplicable(id, `${item.uri}: ${r.reason}, but with no trusted identities or keys configured only SLSA provenance from a GitHub Actions builder is used; not used`), details: { uri: item.uri, mediaType: r.mediaType } });
        continue;
      }
      if (r.signsArtifact) {
        signers.set(signed.signer, signed);
        checks.push(passed(id, `${item.uri}: ${r.reason}`, { uri: item.uri, mediaType: r.mediaType }));
      } else if (r.statement) {
        const m = matchSubject(r.statement, art.digests);
        statements.push({ uri: item.uri, statement: r.statement, signed });
        if (m.matched) {
          signers.set(signed.signer, signed);
          checks.push(passed(id, `${item.uri}: ${r.reason}; ${m.reason}`, { uri: item.uri, predicateType: r.statement.predicateType }));
        } else {
          checks.push(failed(id, `${item.uri}: signature valid (${r.reason}) but the statement is not about this artifact: ${m.reason}`, { uri: item.uri, predicateType: r.statement.predicateType }));
        }
      } else {
        checks.push(failed(id, `${item.uri}: ${r.reason}, but its payload is not an in-toto statement, so it says nothing about the artifact`, { uri: item.uri }));
      }
      continue;
    }
    // A bare DSSE envelope: keys only.
    const env = item.envelope;
    if (env.payloadType !== INTOTO_PAYLOAD_TYPE) {
      checks.push(failed(id, `${item.uri}: payloadType ${JSON.stringify(env.payloadType)} is not ${INTOTO_PAYLOAD_TYPE}`, { uri: item.uri, code: 'DSSE_PAYLOAD_TYPE' }));
      continue;
    }
    if (bundleKeys.length === 0) {
      checks.push(failed(id, `${item.uri}: a DSSE envelope is verified with keys, and no keys are trusted`, { uri: item.uri }));
      continue;
    }
    let statement: Statement;
    try {
      statement = parseStatement(env.payload, `${item.uri} statement`);
    } catch (e) {
      checks.push(failed(id, `${item.uri}: ${(e as Error).message}`, { uri: item.uri, code: (e as AttestError).code }));
      continue;
    }
    const v = verifyEnvelope(env, bundleKeys, 1);
    if (!v.verified) {
      checks.push(failed(id, `${item.uri}: no trusted key (${bundleKeys.map((k) => k.keyid).join(', ')}) verified any of its ${env.signatures.length} signature(s)`, { uri: item.uri }));
      continue;
    }
    const m = matchSubject(statement, art.digests);
    // Every distinct key that signed the envelope counts as a signer.
    const envSigners: Signed[] = v.validKeyids.map((kid) => {
      const fp = keyFingerprint(bundleKeys.find((k) => k.keyid === kid)!.key);
      return { signer: `key:${fp}`, label: `key ${kid}`, keyFingerprint: fp };
    });
    statements.push({ uri: item.uri, statement, signed: envSigners[0]! });
    if (m.matched) {
      for (const s of envSigners) signers.set(s.signer, s);
      checks.push(passed(id, `${item.uri}: signed by ${envSigners.map((s) => s.label).join(', ')}; ${m.reason}`, { uri: item.uri, predicateType: statement.predicateType }));
    } else {
      checks.push(failed(id, `${item.uri}: signature valid but the statement is not about this artifact: ${m.reason}`, { uri: item.uri, predicateType: statement.predicateType }));
    }
  }
  checks.push(signatureThresholdCheck(sigPolicy, signers, bundleKeys));
  // The parsed evidence is not needed past here (verified statements are kept): let it go before
  // the SBOMs and the OSV database are parsed, so their peaks do not add up with it.
  items.length = 0;

  // Provenance: only from verified statements about this artifact.
  const provenance = statements.filter((s) => isProvenance(s.statement));
  let slsaLevel: string | undefined;
  if (!provExp) {
    checks.push(notApplicable('slsa.provenance', provenance.length ? `${provenance.length} provenance statement(s) present; the policy does not ask for provenance` : 'the policy does not ask for provenance'));
  } else if (provenance.length === 0) {
    const why = `no verified SLSA provenance about the artifact${statements.length ? ` (${statements.length} verified statement(s), none SLSA provenance)` : ''}`;
    checks.push(provExp.required ? failed('slsa.provenance', why) : notApplicable('slsa.provenance', `${why}; provenance is optional`));
  } else {
    const results = provenance.map((p) => ({ p, checks: checkProvenance(p.statement, provExp, art.digests, p.signed.identity, { requireBuilderSigner: githubActionsRule, npmPublished }) }));
    const good = results.find((r) => r.checks.every((c) => c.status !== 'failed'));
    if (good) {
      checks.push(passed('slsa.provenance', `provenance ${good.p.uri} signed by ${good.p.signed.label}`));
      checks.push(...good.checks);
      slsaLevel = buildLevel(good.checks, good.p.statement);
    } else {
      checks.push(failed('slsa.provenance', `none of the ${results.length} verified provenance statement(s) satisfies the expectations`));
      for (const r of results) checks.push(...r.checks.map((c) => (results.length > 1 ? { ...c, details: { ...c.details, attestation: r.p.uri } } : c)));
    }
  }

  // VEX: only from the signers the policy names for it (attest/vex/signed.ts).
  const vexKeys = policy?.vexKeys ?? [];
  const vexSigners = policy?.policy.vexSigners;
  const vex = await verifyVEXEvidence(
    vexItems,
    vexSigners ? { identities: vexSigners.identities, keys: vexKeys, ...(sigPolicy?.sigstore ? { sigstore: sigPolicy.sigstore } : {}) } : undefined,
    async () => (root ??= await resolveTrustedRoot(opts.trustedRoot)),
    art.digests,
  );
  checks.push(...vex.checks);

  // SBOM, vulnerabilities (attest/sbom, attest/osv) and anything else plugged in.
  const extra: ExtraCheck[] = [supplyChainChecks, ...registeredExtraChecks, ...(opts.extraChecks ?? [])];
  const extraInput: ExtraCheckInput = {
    artifactDigests: art.digests,
    sboms: await readAll(opts.sboms ?? [], MAX_SBOM_BYTES, 'SBOM'),
    statements: statements.map((s) => ({ uri: s.uri, statement: s.statement, signer: s.signed.label, matchesArtifact: matchSubject(s.statement, art.digests).matched })),
    policy,
    ...(opts.osvDatabase !== undefined ? { osvDatabase: await readEvidence(opts.osvDatabase, MAX_OSV_BYTES, { what: 'OSV database', tooLargeClass: 'usage' }) } : {}),
    vex: vex.documents,
    now,
  };
  for (const c of extra) checks.push(...(await c(extraInput)));

  // Nothing trustworthy checked is never an allow: something must be required, and something
  // trustworthy must vouch for the artifact.
  if (!sigPolicy && !provExp && !(policy && policyRequiresSomething(policy.policy))) {
    checks.push(failed('verify.nothing-checked', policy
      ? `the policy ${policy.uri} requires nothing (no signatures, provenance, sbom or vulnerabilities section), so nothing about the artifact was verified; add what it must require`
      : 'nothing was required of the artifact: give a policy (--policy) that requires signatures, provenance, an SBOM or a vulnerability check, or trusted signers (--key, or --certificate-identity with --certificate-oidc-issuer)'));
  }
  checks.push(authenticationCheck(checks, opts.authenticatedBy));

  const dec = decision(checks);
  const vsa = buildVSA({
    ...(opts.verifierId ? { verifierId: opts.verifierId } : {}),
    ...(opts.verifierVersion ? { verifierVersion: opts.verifierVersion } : {}),
    timeVerified: now,
    resourceUri: opts.resourceUri ?? art.resourceUri,
    subjectName: art.name,
    artifactDigests: art.digests,
    ...(policy ? { policy: { uri: policy.uri, digest: policy.digest } } : {}),
    inputAttestations,
    passed: dec === 'allow',
    verifiedLevels: slsaLevel ? [slsaLevel] : ['SLSA_BUILD_LEVEL_0'],
  });
  const result: VerifyResult = { decision: dec, checks, vsa, artifactDigests: art.digests };
  if (opts.vsaSigner) result.vsaEnvelope = await signVSA(vsa, opts.vsaSigner);
  return result;
}

/**
 * Reads and parses evidence files; a file too large is the evidence's fault (an error item),
 * unreadable the caller's (thrown). The byte and item caps hold for all the files of one call
 * together, so many files cannot add up past them (memory and verification time grow with both).
 */
async function readItems(sources: EvidenceSource[], what: (src: EvidenceSource) => string): Promise<EvidenceItem[]> {
  const items: EvidenceItem[] = [];
  let itemsLeft = MAX_EVIDENCE_ITEMS;
  let bytesLeft = MAX_EVIDENCE_BYTES;
  for (const src of sources) {
    const uri = typeof src === 'string' ? src : src.uri;
    const refuse = (code: string, message: string, details: Record<string, unknown>): void => {
      items.push({ kind: 'error', uri, error: new AttestError(code, message, 'denied', { details }) });
    };
    if (itemsLeft <= 0) {
      refuse('EVIDENCE_TOO_MANY_ITEMS', `${uri} was not read: the evidence before it already holds ${MAX_EVIDENCE_ITEMS} items, the limit for all evidence files together.`, { maxItems: MAX_EVIDENCE_ITEMS });
      continue;
    }
    let loaded;
    try {
      loaded = await readEvidence(src, MAX_EVIDENCE_BYTES, { what: what(src) });
    } catch (e) {
      if (!(e instanceof TollgateError) || e.errorClass !== 'denied') throw e;
      refuse(e.code, e.message, e.details ?? {});
      itemsLeft--;
      continue;
    }
    if (loaded.bytes.byteLength > bytesLeft) {
      refuse('INPUT_TOO_LARGE', `${uri} was not used: with it the evidence files are more than ${formatCap(MAX_EVIDENCE_BYTES)} together, the limit for all of them.`, { cap: MAX_EVIDENCE_BYTES });
      itemsLeft--;
      continue;
    }
    bytesLeft -= loaded.bytes.byteLength;
    const parsed = parseEvidence(uri, loaded.bytes, itemsLeft);
    itemsLeft -= parsed.length;
    items.push(...parsed);
  }
  return items;
}

/**
 * `verify.authenticated`: passed when a trusted signature over the artifact met the threshold,
 * verified provenance passed, or the caller vouches for the digest; failed otherwise, naming what
 * to configure. An SBOM or VEX document nobody trusted signed authenticates nothing.
 */
function authenticationCheck(checks: Check[], authenticatedBy: string | undefined): Check {
  const id = 'verify.authenticated';
  const by: string[] = [];
  const ok = (cid: string) => checks.some((c) => c.id === cid && c.status === 'passed');
  if (ok('signatures.threshold')) by.push('a trusted signature (signatures.threshold)');
  if (ok('slsa.provenance')) by.push('verified SLSA provenance (slsa.provenance)');
  if (authenticatedBy) by.push(authenticatedBy);
  if (by.length) return passed(id, `the artifact is authenticated by ${by.join('; ')}`);
  return failed(id, 'nothing trustworthy vouches for the artifact: no signature by a trusted key or identity and no verified provenance (an SBOM or VEX document that no trusted signer signed is information, not authentication); configure trusted signers: a policy with signatures (keys or identities) or provenance, or --key, or --certificate-identity with --certificate-oidc-issuer');
}

/**
 * Reads inputs of one kind one after the other under one cap for all of them together (memory
 * adds up across files); over it is refused as evidence too large (denied), naming the cap.
 */
async function readAll(srcs: EvidenceSource[], cap: number, what: string): Promise<Array<{ uri: string; bytes: Uint8Array }>> {
  const out: Array<{ uri: string; bytes: Uint8Array }> = [];
  let total = 0;
  for (const src of srcs) {
    const r = await readEvidence(src, cap, { what });
    total += r.bytes.byteLength;
    if (total > cap) {
      throw new AttestError('INPUT_TOO_LARGE', `The ${what}s given are ${total} bytes or more together, more than the ${formatCap(cap)} limit for all of them; refusing them (at ${r.uri}).`, 'denied', { details: { cap, size: total } });
    }
    out.push(r);
  }
  return out;
}

function isBundleSource(src: EvidenceSource, opts: VerifyOptions): boolean {
  return (opts.bundles ?? []).includes(src);
}

function isBundleUri(item: EvidenceItem, opts: VerifyOptions): boolean {
  const base = item.uri.replace(/#\d+$/, '');
  return (opts.bundles ?? []).some((b) => (typeof b === 'string' ? b : b.uri) === base);
}

/** Learns the digest algorithms an in-toto payload's subjects offer (unverified; only to decide what to hash). */
function peekAlgorithms(payloadType: string, payload: Uint8Array, algs: Set<DigestAlgorithm>): void {
  if (payloadType !== INTOTO_PAYLOAD_TYPE) return;
  try {
    for (const a of subjectAlgorithms(parseStatement(payload))) algs.add(a);
  } catch {
    // Reported when the evidence is verified.
  }
}

interface ResolvedArtifact {
  name: string;
  resourceUri: string;
  digests: DigestSet;
  size?: number;
  bytes?: Buffer;
}

async function resolveArtifact(a: ArtifactInput, algs: Set<DigestAlgorithm>, keepBytesUpTo: number | undefined): Promise<ResolvedArtifact> {
  if (typeof a === 'string') {
    const ref = parseDigestRef(a);
    if (ref) return { name: a, resourceUri: a, digests: { [ref.alg]: ref.hex } };
    const r = await hashFile(a, algs, keepBytesUpTo !== undefined ? { keepBytesUpTo } : {});
    return { name: basename(a), resourceUri: pathToFileURL(a).href, digests: r.digests, size: r.size, ...(r.bytes ? { bytes: r.bytes } : {}) };
  }
  const given: DigestSet = 'digests' in a ? a.digests : { sha256: a.sha256 };
  const digests: DigestSet = {};
  for (const [alg, hex] of Object.entries(given)) {
    if (!isDigestAlgorithm(alg) || typeof hex !== 'string' || !isHexDigest(alg, hex)) {
      throw new AttestError('ARTIFACT_DIGEST_INVALID', `The artifact digest ${alg}:${String(hex)} is not a valid sha256/sha384/sha512 hex digest.`, 'usage');
    }
    digests[alg] = hex.toLowerCase();
  }
  if (Object.keys(digests).length === 0) throw new AttestError('ARTIFACT_DIGEST_INVALID', 'The artifact needs at least one digest.', 'usage');
  const first = Object.entries(digests)[0]!;
  const name = 'name' in a && a.name ? a.name : `${first[0]}:${first[1]}`;
  return { name, resourceUri: name, digests };
}

async function resolvePolicy(p: VerifyOptions['policy']): Promise<LoadedPolicy | undefined> {
  if (p === undefined) return undefined;
  if (typeof p === 'object' && 'policy' in p) return p;
  const { uri, bytes } = await readEvidence(p, MAX_POLICY_BYTES, { what: 'policy', tooLargeClass: 'usage' });
  return loadPolicy(bytes, uri);
}

async function resolveTrustedRoot(t: VerifyOptions['trustedRoot']): Promise<LoadedTrustedRoot> {
  if (t === undefined) return publicGoodTrustedRoot();
  if (typeof t === 'object' && 'material' in t) return t;
  const { uri, bytes } = await readEvidence(t, MAX_TRUSTED_ROOT_BYTES, { what: 'Sigstore trusted root', tooLargeClass: 'usage' });
  return loadTrustedRoot(bytes, uri);
}

/** The signature policy of the GitHub Actions rule: any GitHub workflow's certificate, then judged by the provenance checks. */
const GITHUB_ACTIONS_POLICY: SignaturePolicy = { required: true, threshold: 1, identities: [{ issuer: GITHUB_ACTIONS_ISSUER, subjectPattern: 'https://github\\.com/.+' }], keys: [] };

function effectiveSignaturePolicy(policy: LoadedPolicy | undefined, exp: Expectations | undefined): SignaturePolicy | undefined {
  const base = policy?.policy.signatures;
  const ids = exp?.identities ?? [];
  const keys = exp?.keys ?? [];
  if (!base && ids.length === 0 && keys.length === 0) return undefined;
  if (!base) return { required: true, threshold: 1, identities: ids, keys: [] };
  return { ...base, identities: [...base.identities, ...ids] };
}

function effectiveProvenance(policy: LoadedPolicy | undefined, exp: Expectations | undefined): (ProvenanceExpectations & { required: boolean }) | undefined {
  const base = policy?.policy.provenance;
  const flags = exp?.provenance;
  const hasFlags = flags !== undefined && Object.values(flags).some((v) => v !== undefined);
  if (!base && !hasFlags) return undefined;
  const merged: ProvenanceExpectations & { required: boolean } = { required: base?.required ?? true };
  for (const k of ['builderId', 'sourceUri', 'sourceBranch', 'sourceTag', 'sourceVersionedTag', 'packageName', 'packageVersion'] as const) {
    const v = flags?.[k] ?? base?.[k];
    if (v !== undefined) merged[k] = v;
  }
  const inputs = { ...(base?.buildWorkflowInputs ?? {}), ...(flags?.buildWorkflowInputs ?? {}) };
  if (Object.keys(inputs).length) merged.buildWorkflowInputs = inputs;
  return merged;
}

function signatureThresholdCheck(sp: SignaturePolicy | undefined, signers: Map<string, Signed>, keys: VerificationKey[]): Check {
  const id = 'signatures.threshold';
  if (!sp) return notApplicable(id, 'no trusted identities or keys configured');
  const found = [...signers.values()];
  const missing: string[] = [];
  sp.identities.forEach((p, i) => {
    if (p.required && !found.some((s) => s.identityIndices?.includes(i))) missing.push(`identity ${describeIdentity(p)}`);
  });
  for (const k of sp.keys) {
    if (!k.required) continue;
    const vk = keys.find((x) => x.keyid === k.keyid);
    const fp = vk ? keyFingerprint(vk.key) : undefined;
    if (!found.some((s) => s.keyFingerprint === fp)) missing.push(`key ${k.keyid}`);
  }
  const labels = found.map((s) => s.label).join(', ') || 'none';
  if (found.length >= sp.threshold && missing.length === 0) return passed(id, `${found.length} distinct trusted signer(s) of the artifact (threshold ${sp.threshold}): ${labels}`);
  if (!sp.required && found.length === 0 && missing.length === 0) return notApplicable(id, 'no trusted signature over the artifact; signatures are optional');
  const why = [found.length < sp.threshold ? `expected ${sp.threshold} distinct trusted signer(s) of the artifact, found ${found.length} (${labels})` : '', missing.length ? `required signer(s) missing: ${missing.join('; ')}` : ''].filter(Boolean).join('; ');
  return failed(id, why, { threshold: sp.threshold, signers: found.map((s) => s.label) });
}

/** The SLSA build level the verified provenance supports. */
function buildLevel(checks: Check[], st: Statement): string {
  const ok = (id: string): boolean => checks.some((c) => c.id === id && c.status === 'passed');
  const builder = st.predicateType === 'https://slsa.dev/provenance/v1' ? (st.predicate as { runDetails?: { builder?: { id?: string } } })?.runDetails?.builder?.id : (st.predicate as { builder?: { id?: string } })?.builder?.id;
  const name = builder ? parseBuilderId(builder)?.name : undefined;
  // L3 needs a hardened builder that signs its own provenance: the trusted reusable workflows,
  // verified to have signed as themselves. Any other signed, verified provenance is L2.
  if (name && DEFAULT_TRUSTED_BUILDERS.includes(name) && ok('slsa.builder-signer')) return 'SLSA_BUILD_LEVEL_3';
  // BYOB: the trusted delegator vouches for the builder it ran.
  if (checks.some((c) => c.id === 'slsa.builder-signer' && c.status === 'passed' && c.details?.delegator !== undefined)) return 'SLSA_BUILD_LEVEL_3';
  return 'SLSA_BUILD_LEVEL_2';
}

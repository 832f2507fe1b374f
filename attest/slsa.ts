// SLSA provenance v0.2 and v1 checks at parity with slsa-verifier `verify-artifact` and
// `verify-npm-package`: builder id (exact, or a trusted reusable workflow pinned at a vX.Y.Z tag;
// slsa-verifier's default builders when none is expected; npm's runner ids), the signing
// certificate as the builder, source URI (git+https normalised; trigger and material must agree),
// branch, tag, versioned tag (semver, build metadata ignored), workflow_dispatch inputs, npm
// package name and version, and the subject digest. The facts are read the way
// each producer writes them: slsa-github-generator (v0.2 lower-case env, v1 upper-case
// GITHUB_* internal parameters, BYOB), and GitHub/npm attestations (externalParameters.workflow).
// Every failed check names what was expected and what was found.
import { failed, notApplicable, passed, type Check } from './check.ts';
import { AttestError } from './errors.ts';
import { isRecord } from './encoding.ts';
import { matchSubject, type Statement } from './intoto.ts';
import type { DigestSet } from './digest.ts';
import type { FulcioClaims } from './fulcio.ts';

export const SLSA_PROVENANCE_V02 = 'https://slsa.dev/provenance/v0.2';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

// The builders trusted when no builder id is expected, taken from slsa-verifier v2.7.1 (commit
// aaf98fd77ddc1963c0f34f34c46bd84d7a08c260, verifiers/internal/gha/builder.go and
// slsaprovenance/common/builders.go). Keep in step with it; the README says where they come from.
const GENERATOR_WORKFLOWS = 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/';

/** `defaultArtifactTrustedReusableWorkflows`: slsa-verifier verify-artifact's default builders. */
export const DEFAULT_ARTIFACT_BUILDERS = [
  `${GENERATOR_WORKFLOWS}generator_generic_slsa3.yml`,
  `${GENERATOR_WORKFLOWS}builder_go_slsa3.yml`,
  `${GENERATOR_WORKFLOWS}builder_container-based_slsa3.yml`,
];

/** `defaultContainerTrustedReusableWorkflows`: verify-image's default (tollgate verifies an image by its digest with the same command). */
export const DEFAULT_IMAGE_BUILDERS = [`${GENERATOR_WORKFLOWS}generator_container_slsa3.yml`];

/** Builders trusted without a builder id when they sign their own provenance. */
export const DEFAULT_TRUSTED_BUILDERS = [...DEFAULT_ARTIFACT_BUILDERS, ...DEFAULT_IMAGE_BUILDERS];

/**
 * `defaultBYOBReusableWorkflows`: slsa-github-generator's BYOB delegators. They sign provenance for
 * the tag-pinned builder (TRW) that called them; with no builder id, that builder must be one of
 * slsa-github-generator's own workflows (the maven, gradle and nodejs builders), as slsa-verifier's
 * `verifyBuilderIDPathPrefix` requires.
 */
export const TRUSTED_DELEGATORS = [`${GENERATOR_WORKFLOWS}delegator_generic_slsa3.yml`, `${GENERATOR_WORKFLOWS}delegator_lowperms-generic_slsa3.yml`];
export const DEFAULT_BYOB_BUILDER_PREFIX = GENERATOR_WORKFLOWS;

// npm CLI provenance names the GitHub runner as its builder: SLSA v0.2 provenance the legacy
// `…/actions/runner` (a GitHub-hosted runner), v1 `…/runner/github-hosted` or `…/runner/self-hosted`.
export const GITHUB_RUNNER_LEGACY = 'https://github.com/actions/runner';
export const GITHUB_RUNNER_HOSTED = `${GITHUB_RUNNER_LEGACY}/github-hosted`;
export const GITHUB_RUNNER_SELF_HOSTED = `${GITHUB_RUNNER_LEGACY}/self-hosted`;
const RUNNER_ENVIRONMENT: Record<string, string> = { [GITHUB_RUNNER_LEGACY]: 'github-hosted', [GITHUB_RUNNER_HOSTED]: 'github-hosted', [GITHUB_RUNNER_SELF_HOSTED]: 'self-hosted' };

const BYOB_BUILD_TYPE = 'https://github.com/slsa-framework/slsa-github-generator/delegator-generic@v0';
const NPM_CLI_BUILD_TYPE_V1 = 'https://github.com/npm/cli/gha@v1';

export function isProvenance(st: Statement): boolean {
  return st.predicateType === SLSA_PROVENANCE_V02 || st.predicateType === SLSA_PROVENANCE_V1;
}

export interface ProvenanceExpectations {
  /** Exact `name@ref`, or a name only (then a GitHub workflow builder must be pinned at refs/tags/vX.Y.Z). */
  builderId?: string;
  sourceUri?: string;
  sourceBranch?: string;
  sourceTag?: string;
  sourceVersionedTag?: string;
  buildWorkflowInputs?: Record<string, string>;
  /** npm: the package name the provenance subject (`pkg:npm/NAME@VERSION`) must name. */
  packageName?: string;
  /** npm: the package version the provenance subject must name. */
  packageVersion?: string;
}

/** Who signed the provenance, when it came with a certificate. */
export interface SignerIdentity {
  subjectAlternativeName?: string;
  issuer?: string;
  claims?: FulcioClaims;
}

export interface ProvenanceCheckOptions {
  /**
   * The signature was trusted only because it is a GitHub Actions certificate (no identities or keys
   * configured): the certificate must then be the builder itself, so `slsa.builder-signer` cannot
   * be not-applicable.
   */
  requireBuilderSigner?: boolean;
  /** npm's publish attestations that verified with the registry's key and name the artifact. */
  npmPublished?: Array<{ uri: string; name: string; version: string }>;
}

/** A fact read from provenance, or why it could not be read. */
type Fact<T> = { value: T } | { error: string };

export interface ProvenanceFacts {
  version: '0.2' | '1';
  buildType: string;
  builderId: Fact<string>;
  sourceUri: Fact<string>;
  /** The source commit recorded with the source URI (materials[0] / resolvedDependencies[0]), if any. */
  sourceDigest?: string;
  triggerUri: Fact<string>;
  branch: Fact<string>;
  tag: Fact<string>;
  workflowInputs: Fact<Record<string, unknown>>;
}

const get = (o: unknown, ...path: string[]): unknown => {
  let cur = o;
  for (const p of path) {
    if (!isRecord(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
};
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const ok = <T>(value: T): Fact<T> => ({ value });
const err = <T>(error: string): Fact<T> => ({ error });

/** Reads the facts the checks compare from a v0.2 or v1 provenance statement. */
export function provenanceFacts(st: Statement): ProvenanceFacts {
  const pred = st.predicate;
  if (!isRecord(pred)) throw new AttestError('SLSA_MALFORMED', 'The provenance statement has no predicate.');
  if (st.predicateType === SLSA_PROVENANCE_V02) return factsV02(pred);
  if (st.predicateType === SLSA_PROVENANCE_V1) return factsV1(pred);
  throw new AttestError('SLSA_PREDICATE_TYPE', `predicateType ${st.predicateType} is not SLSA provenance v0.2 or v1.`);
}

function factsV02(pred: Record<string, unknown>): ProvenanceFacts {
  const builderId = str(get(pred, 'builder', 'id'));
  const buildType = str(pred.buildType) ?? '';
  const materials = pred.materials;
  const m0 = Array.isArray(materials) ? str(get(materials[0], 'uri')) : undefined;
  const m0Digest = Array.isArray(materials) ? commitOf(get(materials[0], 'digest')) : undefined;
  const trigger = str(get(pred, 'invocation', 'configSource', 'uri'));
  const env = get(pred, 'invocation', 'environment');
  return {
    version: '0.2',
    buildType,
    builderId: builderId ? ok(builderId) : err('predicate.builder.id is missing'),
    sourceUri: m0 ? ok(m0) : err('predicate.materials[0].uri is missing'),
    ...(m0Digest ? { sourceDigest: m0Digest } : {}),
    triggerUri: trigger ? ok(trigger) : err('predicate.invocation.configSource.uri is missing'),
    ...refFacts(isRecord(env) ? env : undefined, false, 'predicate.invocation.environment'),
  };
}

function factsV1(pred: Record<string, unknown>): ProvenanceFacts {
  const builderId = str(get(pred, 'runDetails', 'builder', 'id'));
  const buildType = str(get(pred, 'buildDefinition', 'buildType')) ?? '';
  const deps = get(pred, 'buildDefinition', 'resolvedDependencies');
  const d0 = Array.isArray(deps) ? str(get(deps[0], 'uri')) : undefined;
  const d0Digest = Array.isArray(deps) ? commitOf(get(deps[0], 'digest')) : undefined;
  const internal = get(pred, 'buildDefinition', 'internalParameters');
  const external = get(pred, 'buildDefinition', 'externalParameters');
  const base = {
    version: '1' as const,
    buildType,
    builderId: builderId ? ok(builderId) : err<string>('runDetails.builder.id is missing'),
    sourceUri: d0 ? ok(d0) : err<string>('buildDefinition.resolvedDependencies[0].uri is missing'),
    ...(d0Digest ? { sourceDigest: d0Digest } : {}),
  };
  // slsa-github-generator v1 builders: GITHUB_* variables in internalParameters.
  const wfRef = str(get(internal, 'GITHUB_WORKFLOW_REF'));
  if (isRecord(internal) && wfRef !== undefined) {
    const at = wfRef.split('@');
    const parts = (at[0] ?? '').split('/');
    const triggerUri: Fact<string> =
      at.length !== 2 || parts.length < 2 || !at[1] ? err(`GITHUB_WORKFLOW_REF ${JSON.stringify(wfRef)} is not owner/repo/path@ref`) : ok(`git+https://github.com/${parts.slice(0, 2).join('/')}@${at[1]}`);
    const refs = refFacts(internal, true, 'buildDefinition.internalParameters');
    if (buildType === BYOB_BUILD_TYPE && d0) {
      // BYOB: branch and tag come from the source URI's ref when there is one.
      const ref = splitGitUri(d0).ref;
      if (ref) return { ...base, triggerUri, ...refs, branch: refName(ref, 'heads'), tag: refName(ref, 'tags') };
    }
    return { ...base, triggerUri, ...refs };
  }
  // GitHub artifact attestations and npm provenance: externalParameters.workflow {repository, ref, path}.
  const wf = get(external, 'workflow');
  const repo = str(get(wf, 'repository'));
  const ref = str(get(wf, 'ref'));
  if (repo && ref) {
    const eventName = str(get(internal, 'github', 'event_name'));
    const inputs = get(external, 'inputs');
    return {
      ...base,
      triggerUri: ok(`git+${repo}@${ref}`),
      branch: ref.startsWith('refs/heads/') ? ok(ref) : ref.startsWith('refs/tags/') ? ok('') : err(`workflow ref ${JSON.stringify(ref)} is neither a branch nor a tag`),
      tag: ref.startsWith('refs/tags/') ? ok(ref) : ref.startsWith('refs/heads/') ? ok('') : err(`workflow ref ${JSON.stringify(ref)} is neither a branch nor a tag`),
      workflowInputs:
        eventName === undefined
          ? err('internalParameters.github.event_name is missing')
          : eventName !== 'workflow_dispatch'
            ? err(`expected a 'workflow_dispatch' trigger, found ${JSON.stringify(eventName)}`)
            : isRecord(inputs)
              ? ok(inputs)
              : err('externalParameters.inputs is missing'),
    };
  }
  return {
    ...base,
    triggerUri: err('neither internalParameters.GITHUB_WORKFLOW_REF nor externalParameters.workflow names the triggering workflow'),
    branch: err('the provenance does not record the source ref'),
    tag: err('the provenance does not record the source ref'),
    workflowInputs: err('the provenance does not record workflow inputs'),
  };
}

/** A git commit from a digest set (gitCommit, else sha1). */
function commitOf(d: unknown): string | undefined {
  return str(get(d, 'gitCommit')) ?? str(get(d, 'sha1'));
}

/** Branch, tag and inputs from a GitHub environment map (v0.2 lower-case keys, v1 upper-case). */
function refFacts(env: Record<string, unknown> | undefined, upper: boolean, where: string): Pick<ProvenanceFacts, 'branch' | 'tag' | 'workflowInputs'> {
  if (!env) {
    const e = err<never>(`${where} is missing`);
    return { branch: e, tag: e, workflowInputs: e };
  }
  const k = (s: string): string => (upper ? s.toUpperCase() : s);
  const refType = str(env[k('github_ref_type')]);
  const ref = str(env[k('github_ref')]);
  const eventName = str(env[k('github_event_name')]);
  const payload = env[k('github_event_payload')];
  let branch: Fact<string>;
  let tag: Fact<string>;
  if (refType === 'branch') {
    branch = ref !== undefined ? ok(ref) : err(`${where}.${k('github_ref')} is missing`);
    tag = ok('');
  } else if (refType === 'tag') {
    tag = ref !== undefined ? ok(ref) : err(`${where}.${k('github_ref')} is missing`);
    branch = branchForTag(env, k, eventName, payload, where);
  } else {
    const e = err<string>(`${where}.${k('github_ref_type')} is ${refType === undefined ? 'missing' : `the unknown ref type ${JSON.stringify(refType)}`}`);
    branch = e;
    tag = e;
  }
  let workflowInputs: Fact<Record<string, unknown>>;
  if (eventName === undefined) workflowInputs = err(`${where}.${k('github_event_name')} is missing`);
  else if (eventName !== 'workflow_dispatch') workflowInputs = err(`expected a 'workflow_dispatch' trigger, found ${JSON.stringify(eventName)}`);
  else {
    const inputs = get(payload, 'inputs');
    workflowInputs = isRecord(inputs) ? ok(inputs) : err(`${where}.${k('github_event_payload')}.inputs is missing`);
  }
  return { branch, tag, workflowInputs };
}

function branchForTag(env: Record<string, unknown>, k: (s: string) => string, eventName: string | undefined, payload: unknown, where: string): Fact<string> {
  const baseRef = str(env[k('github_base_ref')]);
  if (baseRef === undefined) return err(`${where}.${k('github_base_ref')} is missing`);
  if (baseRef !== '') return ok(baseRef);
  if (eventName === 'push') {
    const v = get(payload, 'base_ref');
    return ok(typeof v === 'string' ? v : '');
  }
  if (eventName === 'release') {
    const t = str(get(payload, 'release', 'target_commitish'));
    return t !== undefined ? ok(`refs/heads/${t}`) : err('release.target_commitish is missing from the event payload');
  }
  return ok('');
}

/** `refs/<kind>/<name>` → name; '' for other refs. */
function refName(ref: string, kind: 'heads' | 'tags'): Fact<string> {
  return ok(ref.startsWith(`refs/${kind}/`) ? ref : '');
}

/** slsa-verifier's normalisation: add git+https:// when there is no scheme, git+ otherwise. */
export function normalizeGitUri(s: string): string {
  if (s.startsWith('git+')) return s;
  return s.includes('://') ? `git+${s}` : `git+https://${s}`;
}

export function splitGitUri(uri: string): { uri: string; ref: string } {
  const i = uri.indexOf('@');
  return i < 0 ? { uri, ref: '' } : { uri: uri.slice(0, i), ref: uri.slice(i + 1) };
}

/** Splits a builder id into name and version (the part after '@'); refuses an empty version or several '@'. */
export function parseBuilderId(id: string): { name: string; version: string } | undefined {
  const parts = id.split('@');
  if (parts.length === 1) return { name: parts[0]!, version: '' };
  if (parts.length === 2 && parts[1] !== '') return { name: parts[0]!, version: parts[1]! };
  return undefined;
}

interface SemVer {
  major: number;
  minor?: number;
  patch?: number;
  pre: string;
}

/** Parses vMAJOR[.MINOR[.PATCH]][-PRE][+BUILD] (the v optional); build metadata is dropped. */
export function parseSemver(s: string): SemVer | undefined {
  const m = /^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?)?)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/.exec(s);
  if (!m) return undefined;
  return { major: Number(m[1]), ...(m[2] !== undefined ? { minor: Number(m[2]) } : {}), ...(m[3] !== undefined ? { patch: Number(m[3]) } : {}), pre: m[4] ?? '' };
}

/** A builder ref that pins a release: refs/tags/vX.Y.Z exactly (no pre-release, no build metadata). */
export function isPinnedBuilderTag(version: string): boolean {
  if (!version.startsWith('refs/tags/')) return false;
  return /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.test(version.slice('refs/tags/'.length));
}

const isWorkflowBuilder = (name: string): boolean => name.includes('/.github/workflows/');

/** What of the provenance besides its builder id decides how the id matches. */
export interface BuilderContext {
  buildType?: string;
  version?: '0.2' | '1';
}

/** A builder trusted without a builder id only as a BYOB builder, through a trusted delegator. */
function isDefaultByobBuilder(name: string, ctx: BuilderContext): boolean {
  return ctx.buildType === BYOB_BUILD_TYPE && name.startsWith(DEFAULT_BYOB_BUILDER_PREFIX) && !DEFAULT_TRUSTED_BUILDERS.includes(name);
}

/** Matches a provenance builder id against an expectation; returns the failure reason or undefined. */
export function builderIdMismatch(found: string, expected: string | undefined, ctx: BuilderContext = {}): string | undefined {
  const prov = parseBuilderId(found);
  if (!prov) return `builder id ${JSON.stringify(found)} is malformed`;
  if (expected === undefined || expected === '') {
    if (!DEFAULT_TRUSTED_BUILDERS.includes(prov.name) && !isDefaultByobBuilder(prov.name, ctx)) {
      return `expected one of slsa-verifier's default trusted builders (no builder id configured: ${DEFAULT_TRUSTED_BUILDERS.map((b) => b.slice(GENERATOR_WORKFLOWS.length)).join(', ')}, or a slsa-github-generator BYOB builder), found ${found}`;
    }
    if (!isPinnedBuilderTag(prov.version)) return `expected a trusted builder pinned at refs/tags/vX.Y.Z, found ${found}`;
    return undefined;
  }
  const exp = parseBuilderId(expected);
  if (!exp) return `expected builder id ${JSON.stringify(expected)} is malformed`;
  if (exp.name !== prov.name) {
    // npm's SLSA v0.2 provenance names a GitHub-hosted runner by its legacy id; slsa-verifier
    // accepts it for …/runner/github-hosted. SLSA v1 provenance always names the hosting, and
    // slsa-verifier refuses the legacy id for it.
    if (exp.name === GITHUB_RUNNER_HOSTED && prov.name === GITHUB_RUNNER_LEGACY && ctx.version === '0.2' && exp.version === '' && prov.version === '') return undefined;
    if (exp.name === GITHUB_RUNNER_LEGACY && prov.name === GITHUB_RUNNER_HOSTED) {
      return `expected builder ${expected}, found ${found}: SLSA v1 provenance names the runner's hosting, so expect ${GITHUB_RUNNER_HOSTED}`;
    }
    return `expected builder ${expected}, found ${found}`;
  }
  if (exp.version !== '') {
    if (exp.version === prov.version || `refs/tags/${exp.version}` === prov.version) return undefined;
    return `expected builder version ${exp.version}, found ${prov.version || '(none)'} in ${found}`;
  }
  if (isWorkflowBuilder(prov.name) && !isPinnedBuilderTag(prov.version)) {
    return `expected reusable workflow ${exp.name} pinned at refs/tags/vX.Y.Z, found ${found}`;
  }
  return undefined;
}

/** slsa-verifier's versioned-tag rule: major must match; minor and patch(+pre-release) when given. */
export function versionedTagMismatch(foundTag: string, expected: string): string | undefined {
  const exp = parseSemver(expected);
  if (!exp) return `expected versioned tag ${JSON.stringify(expected)} is not semver`;
  const got = parseSemver(foundTag);
  if (!got) return `expected a tag matching ${expected}, found ${JSON.stringify(foundTag)}, which is not semver`;
  const gotMinor = got.minor ?? 0;
  const gotPatch = got.patch ?? 0;
  if (got.major !== exp.major) return `expected major version ${exp.major}, found ${got.major} (tag ${foundTag})`;
  if (exp.minor !== undefined && gotMinor !== exp.minor) return `expected minor version ${exp.major}.${exp.minor}, found ${got.major}.${gotMinor} (tag ${foundTag})`;
  if (exp.patch !== undefined && (gotPatch !== exp.patch || got.pre !== exp.pre)) {
    return `expected version ${exp.major}.${exp.minor}.${exp.patch}${exp.pre ? `-${exp.pre}` : ''}, found ${got.major}.${gotMinor}.${gotPatch}${got.pre ? `-${got.pre}` : ''} (tag ${foundTag})`;
  }
  return undefined;
}

/**
 * Runs every provenance check; checks whose expectation is not configured are not-applicable
 * (builder id and subject always run).
 */
export function checkProvenance(st: Statement, exp: ProvenanceExpectations, artifact: DigestSet, signer?: SignerIdentity, opts: ProvenanceCheckOptions = {}): Check[] {
  const checks: Check[] = [];
  let facts: ProvenanceFacts;
  try {
    facts = provenanceFacts(st);
  } catch (e) {
    return [failed('slsa.predicate', (e as Error).message)];
  }
  checks.push(passed('slsa.predicate', `SLSA provenance v${facts.version}${facts.buildType ? ` (buildType ${facts.buildType})` : ''}`));

  const m = matchSubject(st, artifact);
  checks.push(m.matched ? passed('slsa.subject', m.reason) : failed('slsa.subject', m.reason));

  // Builder id.
  if ('error' in facts.builderId) checks.push(failed('slsa.builder-id', facts.builderId.error));
  else {
    const why = builderIdMismatch(facts.builderId.value, exp.builderId, { buildType: facts.buildType, version: facts.version });
    checks.push(why ? failed('slsa.builder-id', why, { expected: exp.builderId ?? DEFAULT_TRUSTED_BUILDERS, found: facts.builderId.value }) : passed('slsa.builder-id', `builder ${facts.builderId.value}`));
  }

  // The signing certificate must be the builder (a workflow can only sign as itself).
  checks.push(builderSignerCheck(facts, signer, exp, opts.requireBuilderSigner === true));

  // Source.
  if (exp.sourceUri === undefined) checks.push(notApplicable('slsa.source-uri', 'no expected source URI configured'));
  else checks.push(sourceCheck(facts, exp.sourceUri));

  checks.push(refCheck('slsa.source-branch', facts.branch, exp.sourceBranch, 'heads', 'branch'));
  checks.push(refCheck('slsa.source-tag', facts.tag, exp.sourceTag, 'tags', 'tag'));

  if (exp.sourceVersionedTag === undefined) checks.push(notApplicable('slsa.source-versioned-tag', 'no expected versioned tag configured'));
  else if ('error' in facts.tag) checks.push(failed('slsa.source-versioned-tag', `expected a tag matching ${exp.sourceVersionedTag}; ${facts.tag.error}`));
  else if (!facts.tag.value.startsWith('refs/tags/')) checks.push(failed('slsa.source-versioned-tag', `expected a tag matching ${exp.sourceVersionedTag}, found no tag (the build ran on ${facts.branch && 'value' in facts.branch && facts.branch.value ? facts.branch.value : 'a non-tag ref'})`));
  else {
    const tag = facts.tag.value.slice('refs/tags/'.length);
    const why = versionedTagMismatch(tag, exp.sourceVersionedTag);
    checks.push(why ? failed('slsa.source-versioned-tag', why, { expected: exp.sourceVersionedTag, found: tag }) : passed('slsa.source-versioned-tag', `tag ${tag} matches ${exp.sourceVersionedTag}`));
  }

  const inputs = exp.buildWorkflowInputs ?? {};
  if (Object.keys(inputs).length === 0) checks.push(notApplicable('slsa.workflow-inputs', 'no expected workflow inputs configured'));
  else if ('error' in facts.workflowInputs) checks.push(failed('slsa.workflow-inputs', facts.workflowInputs.error));
  else {
    const got = facts.workflowInputs.value;
    const bad: string[] = [];
    for (const [k, v] of Object.entries(inputs)) {
      const g = got[k];
      if (typeof g !== 'string') bad.push(`expected ${k}=${v}, found ${g === undefined ? 'no such input' : `${k}=${JSON.stringify(g)} (not a string)`}`);
      else if (g !== v) bad.push(`expected ${k}=${v}, found ${k}=${g}`);
    }
    checks.push(bad.length ? failed('slsa.workflow-inputs', bad.join('; '), { expected: inputs }) : passed('slsa.workflow-inputs', `inputs ${Object.keys(inputs).join(', ')} match`));
  }

  checks.push(...packageChecks(st, exp, opts.npmPublished ?? []));
  return checks;
}

/**
 * npm package expectations, as slsa-verifier's `--package-name`/`--package-version`: the provenance
 * has exactly one subject, `pkg:npm/NAME@VERSION` (URL-encoded; a scope keeps its leading `@`), and
 * npm's registry publish attestation, verified with the registry's key, names the same package.
 */
function packageChecks(st: Statement, exp: ProvenanceExpectations, published: NonNullable<ProvenanceCheckOptions['npmPublished']>): Check[] {
  if (exp.packageName === undefined && exp.packageVersion === undefined) {
    return [notApplicable('slsa.package-name', 'no expected package name configured'), notApplicable('slsa.package-version', 'no expected package version configured')];
  }
  const pkg = npmSubject(st);
  const one = (id: string, noun: string, expected: string | undefined, pick: (p: { name: string; version: string }) => string): Check => {
    if (expected === undefined) return notApplicable(id, `no expected package ${noun} configured`);
    if ('error' in pkg) return failed(id, `expected package ${noun} ${expected}; ${pkg.error}`);
    const found = pick(pkg.value);
    if (found !== expected) return failed(id, `expected package ${noun} ${expected}, found ${found || '(none)'} in subject ${pkg.value.subject}`, { expected, found });
    if (published.length === 0) return failed(id, `expected npm's registry publish attestation for package ${noun} ${expected} (the registry's attestation set holds it), found none that verified`);
    const other = published.find((p) => pick(p) !== expected);
    if (other) return failed(id, `expected package ${noun} ${expected}, found ${pick(other)} in the publish attestation ${other.uri}`, { expected, found: pick(other) });
    return passed(id, `package ${noun} ${found} (provenance subject and npm's publish attestation)`);
  };
  return [one('slsa.package-name', 'name', exp.packageName, (p) => p.name), one('slsa.package-version', 'version', exp.packageVersion, (p) => p.version)];
}

function npmSubject(st: Statement): Fact<{ name: string; version: string; subject: string }> {
  if (st.subject.length !== 1) return err(`npm provenance has exactly one subject, this one has ${st.subject.length}`);
  const subject = st.subject[0]!.name ?? '';
  const prefix = 'pkg:npm/';
  if (!subject.startsWith(prefix)) return err(`the subject ${JSON.stringify(subject)} is not an npm package (pkg:npm/NAME@VERSION)`);
  let decoded: string;
  try {
    decoded = decodeURIComponent(subject.slice(prefix.length).replace(/\+/g, ' '));
  } catch {
    return err(`the subject ${JSON.stringify(subject)} is not validly URL-encoded`);
  }
  const scoped = decoded.startsWith('@');
  const parts = (scoped ? decoded.slice(1) : decoded).split('@');
  if (parts.length > 2) return err(`the subject ${JSON.stringify(subject)} has more than one version separator`);
  return ok({ name: `${scoped ? '@' : ''}${parts[0]}`, version: parts[1] ?? '', subject });
}

function builderSignerCheck(facts: ProvenanceFacts, signer: SignerIdentity | undefined, exp: ProvenanceExpectations, required: boolean): Check {
  const id = 'slsa.builder-signer';
  // Not-applicable is only allowed when another trusted signer (a key, a configured identity) vouches.
  const skip = (why: string): Check => (required ? failed(id, `${why}; with no trusted identities or keys configured, the GitHub Actions certificate must be the builder`) : notApplicable(id, why));
  if (!signer?.subjectAlternativeName) return skip('the provenance was not signed with a certificate naming a workflow');
  if ('error' in facts.builderId) return skip(facts.builderId.error);
  const b = facts.builderId.value;
  const runnerEnv = RUNNER_ENVIRONMENT[parseBuilderId(b)?.name ?? ''];
  if (runnerEnv !== undefined) return runnerSignerCheck(facts, signer, exp, runnerEnv, required);
  if (!isWorkflowBuilder(b)) return skip(`builder ${b} is not a GitHub workflow; the certificate identity is checked by the signature policy`);
  if (signer.issuer !== undefined && signer.issuer !== GITHUB_ACTIONS_ISSUER) {
    return failed(id, `expected a certificate issued for ${GITHUB_ACTIONS_ISSUER} (builder ${b}), found issuer ${signer.issuer}`);
  }
  if (signer.subjectAlternativeName !== b && facts.buildType === BYOB_BUILD_TYPE) {
    // BYOB: a trusted delegator, itself pinned at a release tag, signs for the tag-pinned builder
    // workflow that called it (slsa-verifier's delegator rule).
    const del = parseBuilderId(signer.subjectAlternativeName);
    const tb = parseBuilderId(b);
    if (del && TRUSTED_DELEGATORS.includes(del.name) && isPinnedBuilderTag(del.version) && tb && isPinnedBuilderTag(tb.version)) {
      return passed(id, `signed by the trusted delegator ${signer.subjectAlternativeName} for builder ${b}`, { delegator: signer.subjectAlternativeName });
    }
  }
  if (signer.subjectAlternativeName !== b) {
    return failed(id, `expected the provenance to be signed by its builder ${b}, found certificate identity ${signer.subjectAlternativeName}`, { expected: b, found: signer.subjectAlternativeName });
  }
  // A BYOB builder is trusted by default only through a delegator, never by signing for itself.
  const name = parseBuilderId(b)?.name ?? '';
  if (!exp.builderId && isDefaultByobBuilder(name, facts)) {
    return failed(id, `expected builder ${b} to be vouched for by one of slsa-github-generator's delegators (no builder id configured), found it signed by itself`);
  }
  return passed(id, `signed by the builder workflow ${b}`);
}

/**
 * A GitHub runner builder (npm CLI provenance): the provenance is written by the workflow being
 * built, so the certificate must agree with it: the runner's hosting always (when the certificate
 * says), and the repository, ref and commit when nothing but the certificate is trusted.
 */
function runnerSignerCheck(facts: ProvenanceFacts, signer: SignerIdentity, exp: ProvenanceExpectations, runnerEnv: string, required: boolean): Check {
  const id = 'slsa.builder-signer';
  const b = 'value' in facts.builderId ? facts.builderId.value : '';
  const c = signer.claims ?? {};
  if (signer.issuer !== undefined && signer.issuer !== GITHUB_ACTIONS_ISSUER) {
    return failed(id, `expected a certificate issued for ${GITHUB_ACTIONS_ISSUER} (builder ${b}), found issuer ${signer.issuer}`);
  }
  if (c.runnerEnvironment !== undefined && c.runnerEnvironment !== runnerEnv) {
    return failed(id, `expected a ${runnerEnv} runner (builder ${b}), found a certificate for a ${c.runnerEnvironment} runner`, { expected: runnerEnv, found: c.runnerEnvironment });
  }
  if (!required) {
    return c.runnerEnvironment !== undefined ? passed(id, `signed by ${signer.subjectAlternativeName} on a ${c.runnerEnvironment} runner`) : notApplicable(id, `the certificate does not say where ${signer.subjectAlternativeName} ran; its identity is checked by the signature policy`);
  }
  const why = (s: string): Check => failed(id, `${s}; with no trusted identities or keys configured, the GitHub Actions certificate must vouch for the runner build`);
  if (c.runnerEnvironment === undefined) return why('the certificate does not name the runner environment');
  if (exp.sourceUri === undefined) return why(`expected a source URI to bind builder ${b} to a repository`);
  const source = normalizeGitUri(exp.sourceUri);
  if (c.sourceRepositoryUri === undefined || normalizeGitUri(c.sourceRepositoryUri) !== source) {
    return why(`expected a certificate for repository ${source}, found ${c.sourceRepositoryUri ?? 'none'}`);
  }
  if ('error' in facts.triggerUri) return why(facts.triggerUri.error);
  const t = splitGitUri(facts.triggerUri.value);
  if (t.uri !== source || t.ref !== c.sourceRepositoryRef) {
    return why(`expected the provenance's trigger ${facts.triggerUri.value} to be the certificate's ${c.sourceRepositoryUri}@${c.sourceRepositoryRef ?? '(no ref)'}`);
  }
  if (facts.sourceDigest !== undefined && facts.sourceDigest !== c.sourceRepositoryDigest) {
    return why(`expected the provenance's source commit ${facts.sourceDigest} to be the certificate's ${c.sourceRepositoryDigest ?? '(none)'}`);
  }
  return passed(id, `signed by ${signer.subjectAlternativeName} on a ${c.runnerEnvironment} runner for ${c.sourceRepositoryUri}@${c.sourceRepositoryRef}`);
}

function sourceCheck(facts: ProvenanceFacts, expected: string): Check {
  const id = 'slsa.source-uri';
  const source = normalizeGitUri(expected);
  if ('error' in facts.triggerUri) return failed(id, `expected source ${source}; ${facts.triggerUri.error}`);
  if ('error' in facts.sourceUri) return failed(id, `expected source ${source}; ${facts.sourceUri.error}`);
  const fullTrigger = facts.triggerUri.value;
  const fullSource = facts.sourceUri.value;
  if (!fullTrigger.startsWith('git+')) return failed(id, `expected a git+ trigger URI, found ${fullTrigger}`);
  if (!fullSource.startsWith('git+')) return failed(id, `expected a git+ source URI, found ${fullSource}`);
  const t = splitGitUri(fullTrigger);
  if (t.uri !== source) return failed(id, `expected source ${source}, found trigger ${fullTrigger}`, { expected: source, found: fullTrigger });
  if (!t.ref) return failed(id, `expected the trigger URI to carry a ref, found ${fullTrigger}`);
  const s = splitGitUri(fullSource);
  if (s.uri !== source) return failed(id, `expected source ${source}, found material ${fullSource}`, { expected: source, found: fullSource });
  if (!s.ref) {
    // npm and BYOB builders may omit the ref in the material (as slsa-verifier allows).
    if (facts.buildType === NPM_CLI_BUILD_TYPE_V1 || facts.buildType === BYOB_BUILD_TYPE) return passed(id, `source ${source}`);
    return failed(id, `expected the source URI to carry a ref, found ${fullSource}`);
  }
  if (fullTrigger !== fullSource) return failed(id, `expected the trigger ${fullTrigger} and the source ${fullSource} to agree`);
  return passed(id, `source ${fullSource}`);
}

function refCheck(id: string, fact: Fact<string>, expected: string | undefined, kind: 'heads' | 'tags', noun: string): Check {
  if (expected === undefined) return notApplicable(id, `no expected ${noun} configured`);
  if ('error' in fact) return failed(id, `expected ${noun} ${expected}; ${fact.error}`);
  const prefix = `refs/${kind}/`;
  if (expected.startsWith(prefix)) expected = expected.slice(prefix.length);
  if (!fact.value.startsWith(prefix) || fact.value.length === prefix.length) {
    return failed(id, `expected ${noun} ${expected}, found ${fact.value === '' ? `no ${noun}` : `ref ${fact.value}`}`, { expected, found: fact.value });
  }
  const name = fact.value.slice(prefix.length);
  return name === expected ? passed(id, `${noun} ${name}`) : failed(id, `expected ${noun} ${expected}, found ${name}`, { expected, found: name });
}

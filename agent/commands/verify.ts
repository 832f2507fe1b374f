// `tollgate verify FILE|sha256:HEX …`: every check on an artifact, one decision. Exit 0 allow,
// 1 deny, 2 usage. The checks themselves live in attest/; this file only turns flags into
// expectations and the result into output.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readBoundedFile, TollgateError } from '../../hardware/index.ts';
import { keyFingerprint, makeVerificationKey, MAX_KEY_BYTES, parseDigestRef, verifyArtifact, type IdentityPolicy, type VerificationKey, type VerifyResult } from '../../attest/index.ts';
import { writeFileAtomic } from '../../tuf/index.ts';
import type { CommandContext, CommandSpec } from '../command.ts';
import { VERSION } from '../version.ts';
import { checkLines, outputFile } from '../options.ts';

type Values = CommandContext['values'];

const list = (v: Values[string]): string[] => (Array.isArray(v) ? v : typeof v === 'string' ? [v] : []);
const one = (v: Values[string]): string | undefined => (typeof v === 'string' ? v : undefined);

function usage(message: string): TollgateError {
  return new TollgateError('USAGE', message, 'usage');
}

/** `sha256:HEX` that is not also a file on disk is a digest (the conformance protocol's rule). */
export function artifactArgument(arg: string, cwd: string): string | { sha256: string } {
  const ref = parseDigestRef(arg);
  if (ref && ref.alg === 'sha256' && !existsSync(join(cwd, arg))) return { sha256: ref.hex };
  return arg.startsWith('/') ? arg : join(cwd, arg);
}

/** --certificate-identity[-regexp] + --certificate-oidc-issuer → identity policies. */
export function identitiesFromFlags(values: Values): IdentityPolicy[] {
  const exact = one(values['certificate-identity']);
  const pattern = one(values['certificate-identity-regexp']);
  const issuer = one(values['certificate-oidc-issuer']);
  if (exact !== undefined && pattern !== undefined) throw usage('Give --certificate-identity or --certificate-identity-regexp, not both.');
  if ((exact !== undefined || pattern !== undefined) && issuer === undefined) throw usage('--certificate-identity needs --certificate-oidc-issuer (the issuer is matched exactly).');
  if (issuer !== undefined && exact === undefined && pattern === undefined) throw usage('--certificate-oidc-issuer needs --certificate-identity or --certificate-identity-regexp.');
  if (issuer === undefined) return [];
  if (pattern !== undefined) {
    try {
      new RegExp(pattern);
    } catch (e) {
      throw usage(`--certificate-identity-regexp is not a valid regular expression: ${(e as Error).message}`);
    }
    return [{ issuer, subjectPattern: pattern }];
  }
  return [{ issuer, subject: exact! }];
}

export async function keysFromFlags(paths: string[], cwd: string): Promise<VerificationKey[]> {
  const keys: VerificationKey[] = [];
  for (const p of paths) {
    const pem = (await readBoundedFile(p.startsWith('/') ? p : join(cwd, p), MAX_KEY_BYTES, { what: '--key' })).toString('utf8');
    const k = makeVerificationKey(basename(p), pem);
    keys.push({ ...k, keyid: `${basename(p)} (${keyFingerprint(k.key).slice(0, 16)})` });
  }
  return keys;
}

function workflowInputs(values: Values): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const kv of list(values['build-workflow-input'])) {
    const i = kv.indexOf('=');
    if (i <= 0) throw usage(`--build-workflow-input ${kv} must be KEY=VALUE.`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return Object.keys(out).length ? out : undefined;
}

export function renderResult(r: VerifyResult): string {
  const lines = checkLines(r.checks);
  lines.push('', r.decision === 'allow' ? 'ALLOW: every check passed or was not applicable.' : `DENY: ${r.checks.filter((c) => c.status === 'failed').length} check(s) failed.`);
  return lines.join('\n');
}

const verify: CommandSpec = {
  path: ['verify'],
  summary: 'Verify an artifact against signatures, provenance, SBOMs and a policy; exit 0 allow, 1 deny.',
  usage: 'tollgate verify FILE|sha256:HEX [--bundle B]… [--attestation A]… [--sbom S]… [--policy P] [--trusted-root TR] [--osv DB] [--vex V]… [expectation flags] [--vsa-out FILE] [--json]',
  positionals: [{ name: 'FILE|sha256:HEX', required: true }],
  options: {
    bundle: { type: 'string', multiple: true, description: 'Sigstore bundle (JSON or JSON Lines); repeatable', valueName: 'FILE' },
    attestation: { type: 'string', multiple: true, description: 'DSSE envelope or Sigstore bundle with an in-toto statement (JSON or JSON Lines); repeatable', valueName: 'FILE' },
    sbom: { type: 'string', multiple: true, description: 'CycloneDX or SPDX JSON SBOM; repeatable', valueName: 'FILE' },
    policy: { type: 'string', description: 'Verification policy (JSON)', valueName: 'FILE' },
    'trusted-root': { type: 'string', description: 'Sigstore trusted_root.json (default: the public-good root embedded offline)', valueName: 'FILE' },
    osv: { type: 'string', description: 'OSV database file for offline vulnerability matching', valueName: 'FILE' },
    vex: { type: 'string', multiple: true, description: 'OpenVEX attestation (DSSE envelope or Sigstore bundle); used only when signed by a VEX signer the policy names (vulnerabilities.vex); repeatable', valueName: 'FILE' },
    'source-uri': { type: 'string', description: 'Expected source repository, e.g. github.com/org/repo', valueName: 'URI' },
    'source-branch': { type: 'string', description: 'Expected source branch', valueName: 'BRANCH' },
    'source-tag': { type: 'string', description: 'Expected source tag (exact)', valueName: 'TAG' },
    'source-versioned-tag': { type: 'string', description: 'Expected semver tag: v1 matches v1.x.y, v1.2 matches v1.2.x', valueName: 'TAG' },
    'builder-id': { type: 'string', description: 'Expected builder id (name@ref exact, or a name pinned at a vX.Y.Z tag)', valueName: 'ID' },
    'build-workflow-input': { type: 'string', multiple: true, description: 'Expected workflow_dispatch input; repeatable', valueName: 'KEY=VALUE' },
    'package-name': { type: 'string', description: 'Expected npm package name in the provenance subject, e.g. @scope/name', valueName: 'NAME' },
    'package-version': { type: 'string', description: 'Expected npm package version in the provenance subject', valueName: 'VERSION' },
    'certificate-identity': { type: 'string', description: 'Expected signing certificate SAN, exact', valueName: 'SAN' },
    'certificate-identity-regexp': { type: 'string', description: 'Expected signing certificate SAN as a regular expression (anchored)', valueName: 'REGEXP' },
    'certificate-oidc-issuer': { type: 'string', description: 'Expected OIDC issuer of the signing certificate, exact', valueName: 'URL' },
    key: { type: 'string', multiple: true, description: 'Trusted public key (PEM) for DSSE envelopes and key-signed bundles; repeatable', valueName: 'PEM' },
    'vsa-out': { type: 'string', description: 'Write the verification summary attestation (in-toto statement) here', valueName: 'FILE' },
  },
  async run(ctx: CommandContext): Promise<number> {
    const { values, positionals, cwd } = ctx;
    if (positionals.length !== 1) throw usage('verify takes exactly one artifact: FILE or sha256:HEX.');
    const abs = (p: string): string => (p.startsWith('/') ? p : join(cwd, p));
    const outOpt = one(values['vsa-out']);
    const out = outOpt === undefined ? undefined : outputFile(ctx, 'vsa-out', outOpt);
    const artifact = artifactArgument(positionals[0]!, cwd);
    const identities = identitiesFromFlags(values);
    const keys = await keysFromFlags(list(values.key), cwd);
    const provenance = {
      ...(one(values['source-uri']) !== undefined ? { sourceUri: one(values['source-uri'])! } : {}),
      ...(one(values['source-branch']) !== undefined ? { sourceBranch: one(values['source-branch'])! } : {}),
      ...(one(values['source-tag']) !== undefined ? { sourceTag: one(values['source-tag'])! } : {}),
      ...(one(values['source-versioned-tag']) !== undefined ? { sourceVersionedTag: one(values['source-versioned-tag'])! } : {}),
      ...(one(values['builder-id']) !== undefined ? { builderId: one(values['builder-id'])! } : {}),
      ...(one(values['package-name']) !== undefined ? { packageName: one(values['package-name'])! } : {}),
      ...(one(values['package-version']) !== undefined ? { packageVersion: one(values['package-version'])! } : {}),
    };
    const inputs = workflowInputs(values);
    const policyPath = one(values.policy);
    const trustedRoot = one(values['trusted-root']);
    const osv = one(values.osv);
    const result = await verifyArtifact({
      artifact,
      bundles: list(values.bundle).map(abs),
      attestations: list(values.attestation).map(abs),
      sboms: list(values.sbom).map(abs),
      ...(policyPath !== undefined ? { policy: abs(policyPath) } : {}),
      ...(trustedRoot !== undefined ? { trustedRoot: abs(trustedRoot) } : {}),
      ...(osv !== undefined ? { osvDatabase: abs(osv) } : {}),
      vex: list(values.vex).map(abs),
      expectations: { identities, keys, provenance: { ...provenance, ...(inputs ? { buildWorkflowInputs: inputs } : {}) } },
      verifierVersion: { tollgate: VERSION },
    });
    if (out !== undefined) writeFileAtomic(out, JSON.stringify(result.vsaEnvelope ?? result.vsa, null, 2) + '\n');
    ctx.result({ decision: result.decision, artifact: result.artifactDigests, checks: result.checks, vsa: result.vsa }, renderResult(result));
    return result.decision === 'allow' ? 0 : 1;
  },
};

export const commands: CommandSpec[] = [verify];

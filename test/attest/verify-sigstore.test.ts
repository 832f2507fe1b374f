// The pipeline and both commands with Sigstore bundles on disk, verified against the local trust
// chain's trusted_root.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { verifyArtifact, type Check, type VerifyResult } from '../../attest/index.ts';
import { runCli } from '../../agent/cli.ts';
import { commands as verifyCommands } from '../../agent/commands/verify.ts';
import { commands as conformanceCommands } from '../../agent/commands/conformance-sigstore.ts';
import { GITHUB_ISSUER, SigstoreTestbed, WORKFLOW } from '../fixtures/attest/sigstore.ts';
import { GENERIC_BUILDER, provenanceV1Generator, sha256hex } from '../fixtures/attest/provenance.ts';
import { tempDir, type TempDir } from '../fixtures/attest/files.ts';

const tb = new SigstoreTestbed();
const BUILDER = `${GENERIC_BUILDER}@refs/tags/v1.9.0`;
let t: TempDir;
let artifact: string;
let digest: string;
let rootPath: string;
let msgBundle: string;
let provBundle: string;
let forgedProv: string;
const byId = (r: VerifyResult) => new Map(r.checks.map((c: Check) => [c.id, c]));

before(() => {
  t = tempDir();
  const bytes = Buffer.from('widget 2.0 release');
  artifact = t.write('widget.bin', bytes);
  digest = sha256hex(bytes);
  rootPath = t.write('trusted_root.json', JSON.stringify(tb.trustedRoot()));
  const dev = tb.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER });
  msgBundle = t.write('widget.bin.sigstore.json', JSON.stringify(tb.bundle({ version: '0.3', content: { artifact: bytes }, signer: { leaf: dev } })));
  const statement = provenanceV1Generator({ subjects: [{ name: 'widget.bin', digest: { sha256: digest } }], ref: 'refs/tags/v2.0.0' });
  const builder = tb.issueLeaf({ san: BUILDER, issuer: GITHUB_ISSUER });
  provBundle = t.write('widget.bin.build.slsa', JSON.stringify(tb.bundle({ version: '0.3', rekor: 'v2', content: { statement }, signer: { leaf: builder } })));
  // Provenance claiming the trusted builder but signed by the project's own workflow.
  forgedProv = t.write('forged.build.slsa', JSON.stringify(tb.bundle({ version: '0.2', content: { statement }, signer: { leaf: dev } })));
});
after(() => t.remove());

const policy = (extra: Record<string, unknown> = {}) =>
  t.write('policy.json', JSON.stringify({
    version: 1,
    signatures: { threshold: 2, identities: [{ issuer: GITHUB_ISSUER, subject: WORKFLOW }, { issuer: GITHUB_ISSUER, subjectPattern: `${GENERIC_BUILDER.replace(/[.]/g, '\\.')}@refs/tags/v.*` }] },
    provenance: { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget', sourceVersionedTag: 'v2' },
    ...extra,
  }));

test('allow: a message signature by the project and SLSA provenance by the trusted builder (L3)', async () => {
  const r = await verifyArtifact({ artifact, bundles: [msgBundle, provBundle], trustedRoot: rootPath, policy: policy() });
  assert.equal(r.decision, 'allow', JSON.stringify(r.checks, null, 1));
  const c = byId(r);
  assert.match(c.get('signatures.threshold')!.reason, /2 distinct trusted signer/);
  assert.equal(c.get('slsa.builder-signer')!.status, 'passed');
  assert.equal(c.get('slsa.source-versioned-tag')!.status, 'passed');
  assert.deepEqual((r.vsa.predicate as any).verifiedLevels, ['SLSA_BUILD_LEVEL_3']);
  assert.equal((r.vsa.predicate as any).inputAttestations.length, 2);
});

test('deny: provenance naming the trusted builder but signed by another workflow', async () => {
  const r = await verifyArtifact({
    artifact,
    bundles: [msgBundle, forgedProv],
    trustedRoot: rootPath,
    policy: t.write('p1.json', JSON.stringify({ version: 1, signatures: { identities: [{ issuer: GITHUB_ISSUER, subject: WORKFLOW }] }, provenance: { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget' } })),
  });
  assert.equal(r.decision, 'deny');
  assert.match(byId(r).get('slsa.builder-signer')!.reason, /expected the provenance to be signed by its builder .*generator_generic_slsa3.yml@refs\/tags\/v1.9.0, found certificate identity .*release.yml@refs\/heads\/main/);
});

test('the embedded public-good root is the default and rejects the local chain', async () => {
  const r = await verifyArtifact({ artifact, bundles: [msgBundle], expectations: { identities: [{ issuer: GITHUB_ISSUER, subject: WORKFLOW }] } });
  assert.equal(r.decision, 'deny');
  assert.match(byId(r).get('sigstore.bundle[0]')!.reason, /CERTIFICATE_ERROR|certificate/i);
});

const registry = [...verifyCommands, ...conformanceCommands].map((c) => ({ path: c.path, summary: c.summary, load: async () => ({ commands: [...verifyCommands, ...conformanceCommands] }) }));
async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {}, cwd: t.dir, tty: false }, registry);
  return { code, out, err };
}

test('tollgate verify with --bundle, --certificate-identity[-regexp] and --trusted-root', async () => {
  const ok = await cli(['verify', 'widget.bin', '--bundle', 'widget.bin.sigstore.json', '--trusted-root', 'trusted_root.json', '--certificate-identity', WORKFLOW, '--certificate-oidc-issuer', GITHUB_ISSUER]);
  assert.equal(ok.code, 0, ok.out + ok.err);
  const rx = await cli(['verify', 'widget.bin', '--bundle', 'widget.bin.sigstore.json', '--trusted-root', 'trusted_root.json', '--certificate-identity-regexp', 'https://github\\.com/acme/widget/.*', '--certificate-oidc-issuer', GITHUB_ISSUER]);
  assert.equal(rx.code, 0, rx.out);
  // The regexp is anchored: a fragment of the SAN does not match.
  const frag = await cli(['verify', 'widget.bin', '--bundle', 'widget.bin.sigstore.json', '--trusted-root', 'trusted_root.json', '--certificate-identity-regexp', 'acme/widget', '--certificate-oidc-issuer', GITHUB_ISSUER]);
  assert.equal(frag.code, 1);
  const prov = await cli(['verify', `sha256:${digest}`, '--bundle', 'widget.bin.build.slsa', '--trusted-root', 'trusted_root.json', '--certificate-identity', BUILDER, '--certificate-oidc-issuer', GITHUB_ISSUER, '--source-uri', 'github.com/acme/widget', '--source-tag', 'v2.0.0', '--builder-id', GENERIC_BUILDER, '--json']);
  assert.equal(prov.code, 0, prov.out);
  assert.equal(JSON.parse(prov.out).vsa.predicate.verifiedLevels[0], 'SLSA_BUILD_LEVEL_3');
  const wrongTag = await cli(['verify', 'widget.bin', '--bundle', 'widget.bin.build.slsa', '--trusted-root', 'trusted_root.json', '--certificate-identity', BUILDER, '--certificate-oidc-issuer', GITHUB_ISSUER, '--source-uri', 'github.com/acme/widget', '--source-versioned-tag', 'v3']);
  assert.equal(wrongTag.code, 1);
  assert.match(wrongTag.out, /expected major version 3, found 2/);
});

test('conformance verify-bundle: exit 0 only for a valid bundle', async () => {
  const base = ['conformance', 'sigstore', 'verify-bundle', '--bundle', 'widget.bin.sigstore.json'];
  const id = ['--certificate-identity', WORKFLOW, '--certificate-oidc-issuer', GITHUB_ISSUER];
  assert.equal((await cli([...base, ...id, '--trusted-root', 'trusted_root.json', 'widget.bin'])).code, 0);
  assert.equal((await cli([...base, ...id, '--trusted-root', 'trusted_root.json', `sha256:${digest}`])).code, 0, 'digest input');
  assert.equal((await cli([...base, ...id, '--trusted-root', 'trusted_root.json', `sha256:${sha256hex('other')}`])).code, 1, 'wrong digest');
  assert.equal((await cli([...base, '--certificate-identity', `${WORKFLOW}x`, '--certificate-oidc-issuer', GITHUB_ISSUER, '--trusted-root', 'trusted_root.json', 'widget.bin'])).code, 1, 'wrong identity');
  assert.equal((await cli([...base, ...id, 'widget.bin'])).code, 1, 'public-good root does not trust the local chain');
  const staging = await cli(['conformance', 'sigstore', 'verify-bundle', '--staging', '--bundle', 'widget.bin.sigstore.json', ...id, 'widget.bin']);
  assert.equal(staging.code, 1);
  assert.match(staging.err, /no offline Sigstore staging trusted root; pass --trusted-root/);
  assert.equal((await cli(['conformance', 'sigstore', 'verify-bundle', '--staging', '--bundle', 'widget.bin.sigstore.json', ...id, '--trusted-root', 'trusted_root.json', 'widget.bin'])).code, 0);
  // Key mode refuses the certificate bundle; a key-signed bundle verifies.
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  t.write('pub.pem', k.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const keyed = await cli([...base, '--key', 'pub.pem', '--trusted-root', 'trusted_root.json', 'widget.bin']);
  assert.equal(keyed.code, 1);
  assert.match(keyed.out, /key mode/);
  t.write('keyed.json', JSON.stringify(tb.bundle({ version: '0.3', content: { artifact: Buffer.from('widget 2.0 release') }, signer: { privateKey: k.privateKey, publicKey: k.publicKey, hint: 'x' } })));
  assert.equal((await cli(['conformance', 'sigstore', 'verify-bundle', '--bundle', 'keyed.json', '--key', 'pub.pem', '--trusted-root', 'trusted_root.json', 'widget.bin'])).code, 0);
  // DSSE bundles: the artifact must be a subject.
  assert.equal((await cli(['conformance', 'sigstore', 'verify-bundle', '--bundle', 'widget.bin.build.slsa', '--certificate-identity', BUILDER, '--certificate-oidc-issuer', GITHUB_ISSUER, '--trusted-root', 'trusted_root.json', 'widget.bin'])).code, 0);
  assert.equal((await cli(['conformance', 'sigstore', 'verify-bundle', '--bundle', 'widget.bin.build.slsa', '--certificate-identity', BUILDER, '--certificate-oidc-issuer', GITHUB_ISSUER, '--trusted-root', 'trusted_root.json', 'trusted_root.json'])).code, 1);
  // Usage mistakes and the unsupported half.
  assert.equal((await cli(['conformance', 'sigstore', 'verify-bundle', '--bundle', 'widget.bin.sigstore.json', 'widget.bin'])).code, 2);
  assert.equal((await cli([...base, ...id, '--key', 'pub.pem', 'widget.bin'])).code, 2);
  assert.equal((await cli(['conformance', 'sigstore', 'sign-bundle', '--identity-token', 'x', '--bundle', 'b', 'f'])).code, 1);
});

test('evidence from an untrusted signer is set aside (not used), a required identity is found behind a broader one', async () => {
  const stranger = tb.issueLeaf({ san: 'https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main', issuer: GITHUB_ISSUER });
  const strangerBundle = t.write('stranger.json', JSON.stringify(tb.bundle({ version: '0.3', content: { artifact: Buffer.from('widget 2.0 release') }, signer: { leaf: stranger } })));
  const p = t.write('p-req.json', JSON.stringify({ version: 1, signatures: { identities: [{ issuer: GITHUB_ISSUER, subjectPattern: 'https://github\\.com/acme/.*' }, { issuer: GITHUB_ISSUER, subject: WORKFLOW, required: true }] } }));
  const r = await verifyArtifact({ artifact, bundles: [strangerBundle, msgBundle], trustedRoot: rootPath, policy: p });
  assert.equal(r.decision, 'allow', JSON.stringify(r.checks, null, 1));
  const c = byId(r);
  assert.equal(c.get('sigstore.bundle[0]')!.status, 'not-applicable');
  assert.match(c.get('sigstore.bundle[0]')!.reason, /found SAN "https:\/\/github.com\/someone\/else.*; not used/);
  // Alone, the stranger's signature does not make an allow.
  const alone = await verifyArtifact({ artifact, bundles: [strangerBundle], trustedRoot: rootPath, policy: p });
  assert.equal(alone.decision, 'deny');
  assert.match(byId(alone).get('signatures.threshold')!.reason, /found 0 .*required signer\(s\) missing: identity "https:\/\/github.com\/acme\/widget/);
});

test('VEX in a Sigstore bundle counts only when signed by an identity the policy names for VEX, not by the publisher', async () => {
  const SECURITY = 'https://github.com/acme/security/.github/workflows/vex.yml@refs/heads/main';
  const sbom = t.write('vuln.cdx.json', JSON.stringify({
    bomFormat: 'CycloneDX', specVersion: '1.5', version: 1,
    metadata: { component: { type: 'application', name: 'widget', version: '2.0.0', hashes: [{ alg: 'SHA-256', content: digest }] } },
    components: [{ type: 'library', name: 'lodash', version: '4.17.20', purl: 'pkg:npm/lodash@4.17.20' }],
  }));
  const osv = t.write('osv.json', JSON.stringify([{
    schema_version: '1.6.0', id: 'GHSA-test-0002', modified: '2025-01-01T00:00:00Z',
    affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }] }],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
  }]));
  const statement = {
    _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://openvex.dev/ns/v0.2.0', subject: [{ name: 'widget.bin', digest: { sha256: digest } }],
    predicate: { '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://example.com/vex/2', author: 'acme', timestamp: '2026-01-01T00:00:00Z', version: 1,
      statements: [{ vulnerability: { name: 'GHSA-test-0002' }, products: [{ '@id': 'pkg:npm/lodash@4.17.20' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }] },
  };
  const vexBy = (san: string, name: string) => t.write(name, JSON.stringify(tb.bundle({ version: '0.3', content: { statement }, signer: { leaf: tb.issueLeaf({ san, issuer: GITHUB_ISSUER }) } })));
  const bySecurity = vexBy(SECURITY, 'vex.security.sigstore.json');
  const byPublisher = vexBy(WORKFLOW, 'vex.publisher.sigstore.json');
  const p = t.write('p-vex.json', JSON.stringify({
    version: 1,
    signatures: { identities: [{ issuer: GITHUB_ISSUER, subject: WORKFLOW }] },
    vulnerabilities: { maxSeverity: 'medium', vex: { identities: [{ issuer: GITHUB_ISSUER, subject: SECURITY }] } },
  }));
  const run = (vex: string[]) => verifyArtifact({ artifact, bundles: [msgBundle], sboms: [sbom], osvDatabase: osv, vex, trustedRoot: rootPath, policy: p });
  const publisher = await run([byPublisher]);
  assert.equal(publisher.decision, 'deny', 'the publisher suppressing its own CVE');
  assert.equal(byId(publisher).get('vex.document[0]')!.status, 'not-applicable');
  assert.equal(byId(publisher).get('vuln.GHSA-test-0002')!.status, 'failed');
  const security = await run([bySecurity]);
  assert.equal(security.decision, 'allow', JSON.stringify(security.checks, null, 1));
  assert.match(byId(security).get('vex.document[0]')!.reason, /signed by https:\/\/github\.com\/acme\/security\/.*a VEX signer the policy names/);
  assert.equal(byId(security).get('vuln.GHSA-test-0002')!.status, 'not-applicable');
});

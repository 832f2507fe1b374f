// verifyArtifact with SBOMs (bare files and signed in-toto predicates), an offline OSV database
// and OpenVEX: the wiring between the pipeline and attest/sbom, attest/osv, attest/vex.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { envelopeToJSON, loadPolicy, signEnvelope, softwareSigner, verifyArtifact, type Check, type VerifyResult } from '../../attest/index.ts';
import { makeKey, type TestKey } from '../fixtures/attest/keys.ts';
import { sha256hex } from '../fixtures/attest/provenance.ts';
import { tempDir, type TempDir } from '../fixtures/attest/files.ts';

let t: TempDir;
let key: TestKey;
let artifact: string;
let digest: string;
let release: string;
const byId = (r: VerifyResult) => new Map(r.checks.map((c: Check) => [c.id, c]));
const failedIds = (r: VerifyResult) => r.checks.filter((c) => c.status === 'failed').map((c) => c.id);

const sbom = (lodash: string, license = 'MIT', digestOverride?: string) => ({
  bomFormat: 'CycloneDX',
  specVersion: '1.5',
  version: 1,
  metadata: { component: { type: 'application', name: 'widget', version: '2.0.0', hashes: [{ alg: 'SHA-256', content: digestOverride ?? digest }] } },
  components: [{ type: 'library', name: 'lodash', version: lodash, purl: `pkg:npm/lodash@${lodash}`, licenses: [{ license: { id: license } }] }],
});
const osv = JSON.stringify([
  {
    schema_version: '1.6.0',
    id: 'GHSA-test-0001',
    modified: '2025-01-01T00:00:00Z',
    summary: 'prototype pollution',
    affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }] }],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
  },
]);
const vexDoc = JSON.stringify({
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://example.com/vex/1',
  author: 'acme security',
  timestamp: '2026-01-01T00:00:00Z',
  version: 1,
  statements: [{ vulnerability: { name: 'GHSA-test-0001' }, products: [{ '@id': 'pkg:npm/lodash@4.17.20' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
});

before(async () => {
  t = tempDir();
  key = makeKey('ecdsa-sha2-nistp256');
  artifact = t.write('widget.tgz', 'widget 2.0.0');
  digest = sha256hex('widget 2.0.0');
  const st = { _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://example.com/release/v1', subject: [{ name: 'widget.tgz', digest: { sha256: digest } }], predicate: {} };
  release = t.write('release.json', JSON.stringify(envelopeToJSON(await signEnvelope('application/vnd.in-toto+json', Buffer.from(JSON.stringify(st)), [softwareSigner(key.privateKey, { keyid: 'k' })]))));
  t.write('osv.json', osv);
  t.write('vex.json', vexDoc);
});
after(() => t.remove());

const policy = (extra: Record<string, unknown>) => t.write('policy.json', JSON.stringify({ version: 1, signatures: { keys: [{ keyid: 'k', publicKey: key.pem }] }, ...extra }));
const P = { sbom: { required: true, licenses: { allow: ['MIT', 'Apache-2.0'] } }, vulnerabilities: { maxSeverity: 'medium' } };

test('allow: a bound SBOM with allowed licences and no known vulnerability', async () => {
  const r = await verifyArtifact({ artifact, attestations: [release], sboms: [t.write('sbom.json', JSON.stringify(sbom('4.17.21')))], osvDatabase: `${t.dir}/osv.json`, policy: policy(P) });
  assert.equal(r.decision, 'allow', JSON.stringify(r.checks, null, 1));
  const c = byId(r);
  assert.equal(c.get('sbom.binding')!.status, 'passed');
  assert.equal(c.get('sbom.license')!.status, 'passed');
});

test('deny: a vulnerable component above the allowed severity; only VEX signed by a VEX signer the policy names suppresses it', async () => {
  const s = t.write('sbom-vuln.json', JSON.stringify(sbom('4.17.20')));
  const r = await verifyArtifact({ artifact, attestations: [release], sboms: [s], osvDatabase: `${t.dir}/osv.json`, policy: policy(P) });
  assert.equal(r.decision, 'deny');
  assert.ok(failedIds(r).some((id) => id.startsWith('vuln.')), JSON.stringify(r.checks, null, 1));
  const security = makeKey('ecdsa-sha2-nistp256');
  const vexStatement = (subjectDigest = digest) => ({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://openvex.dev/ns/v0.2.0', subject: [{ name: 'widget.tgz', digest: { sha256: subjectDigest } }], predicate: JSON.parse(vexDoc) });
  const signedVex = async (name: string, k: TestKey, st = vexStatement()) =>
    t.write(name, JSON.stringify(envelopeToJSON(await signEnvelope('application/vnd.in-toto+json', Buffer.from(JSON.stringify(st)), [softwareSigner(k.privateKey, { keyid: 'v' })]))));
  const bySecurity = await signedVex('vex.security.json', security);
  const byPublisher = await signedVex('vex.publisher.json', key);
  const aboutOther = await signedVex('vex.other.json', security, vexStatement(sha256hex('another artifact')));
  const run = (vex: string[], vexSigners?: unknown) =>
    verifyArtifact({ artifact, attestations: [release], sboms: [s], osvDatabase: `${t.dir}/osv.json`, vex, policy: policy({ ...P, vulnerabilities: { maxSeverity: 'medium', ...(vexSigners ? { vex: vexSigners } : {}) } }) });
  const vexCheck = (v: VerifyResult) => byId(v).get('vex.document[0]')!;
  // The policy names no VEX signers: no VEX counts, signed or not.
  const none = await run([bySecurity]);
  assert.equal(none.decision, 'deny');
  assert.equal(vexCheck(none).status, 'not-applicable');
  assert.match(vexCheck(none).reason, /names no VEX signers/);
  const securityOnly = { keys: [{ keyid: 'security-team', publicKey: security.pem }] };
  // A bare OpenVEX document is information, never a suppression.
  const bare = await run([`${t.dir}/vex.json`], securityOnly);
  assert.equal(bare.decision, 'deny');
  assert.match(vexCheck(bare).reason, /unsigned document/);
  // The publisher suppressing its own CVE: not unless the policy names its key for VEX.
  const publisher = await run([byPublisher], securityOnly);
  assert.equal(publisher.decision, 'deny');
  assert.match(vexCheck(publisher).reason, /no VEX signer key the policy names \(security-team\)/);
  const other = await run([aboutOther], securityOnly);
  assert.equal(other.decision, 'deny');
  assert.match(vexCheck(other).reason, /not about this artifact/);
  // Signed by the VEX signer the policy names, about this artifact: suppresses.
  const v = await run([bySecurity], securityOnly);
  assert.equal(v.decision, 'allow', JSON.stringify(v.checks, null, 1));
  assert.equal(vexCheck(v).status, 'passed');
  assert.match(v.checks.find((c) => c.id === 'vuln.GHSA-test-0001')!.reason, /suppressed by OpenVEX .* \(signed by key security-team\)/);
  // …and the publisher's VEX counts once the policy names the publisher's key for VEX explicitly.
  assert.equal((await run([byPublisher], { keys: [{ keyid: 'publisher', publicKey: key.pem }] })).decision, 'allow');
  assert.throws(() => loadPolicy(JSON.stringify({ version: 1, vulnerabilities: { vex: true } })), /\$\.vulnerabilities\.vex: must name who may make VEX statements/);
  assert.throws(() => loadPolicy(JSON.stringify({ version: 1, vulnerabilities: { vex: {} } })), /\$\.vulnerabilities\.vex: must list at least one identity or key/);
  assert.throws(() => loadPolicy(JSON.stringify({ version: 1, vulnerabilities: { vex: { keys: [], threshold: 2 } } })), /\$\.vulnerabilities\.vex\.threshold: is not a known field/);
});

test('deny: a denied licence, an SBOM about another artifact, a missing OSV database, a malformed SBOM', async () => {
  const gpl = await verifyArtifact({ artifact, attestations: [release], sboms: [t.write('gpl.json', JSON.stringify(sbom('4.17.21', 'GPL-3.0-only')))], osvDatabase: `${t.dir}/osv.json`, policy: policy(P) });
  assert.deepEqual(failedIds(gpl), ['sbom.license']);
  const other = await verifyArtifact({ artifact, attestations: [release], sboms: [t.write('other.json', JSON.stringify(sbom('4.17.21', 'MIT', sha256hex('other'))))], osvDatabase: `${t.dir}/osv.json`, policy: policy(P) });
  assert.deepEqual(failedIds(other), ['sbom.binding']);
  const noDb = await verifyArtifact({ artifact, attestations: [release], sboms: [t.write('ok.json', JSON.stringify(sbom('4.17.21')))], policy: policy(P) });
  assert.deepEqual(failedIds(noDb), ['vuln.database']);
  const broken = await verifyArtifact({ artifact, attestations: [release], sboms: [t.write('broken.json', '{"bomFormat": "CycloneDX", ' + '['.repeat(500))], policy: policy({ sbom: { required: true } }) });
  assert.ok(failedIds(broken).includes('sbom.schema'), JSON.stringify(broken.checks));
});

test('an SBOM as the predicate of a signed statement about the artifact is used; an unsigned one is not', async () => {
  const st = { _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://cyclonedx.org/bom', subject: [{ name: 'widget.tgz', digest: { sha256: digest } }], predicate: sbom('4.17.20') };
  const signed = t.write('sbom.intoto.json', JSON.stringify(envelopeToJSON(await signEnvelope('application/vnd.in-toto+json', Buffer.from(JSON.stringify(st)), [softwareSigner(key.privateKey, { keyid: 'k' })]))));
  const r = await verifyArtifact({ artifact, attestations: [signed], osvDatabase: `${t.dir}/osv.json`, policy: policy(P) });
  assert.equal(r.decision, 'deny');
  assert.ok(failedIds(r).some((id) => id.startsWith('vuln.')), JSON.stringify(r.checks, null, 1));
  assert.equal(byId(r).get('sbom.binding')!.status, 'passed');
  const forged = t.write('sbom-forged.intoto.json', JSON.stringify(envelopeToJSON(await signEnvelope('application/vnd.in-toto+json', Buffer.from(JSON.stringify(st)), [softwareSigner(makeKey('ed25519').privateKey, { keyid: 'k' })]))));
  const f = await verifyArtifact({ artifact, attestations: [forged], osvDatabase: `${t.dir}/osv.json`, policy: policy(P) });
  assert.equal(byId(f).get('sbom.present')!.status, 'failed', 'the unverified SBOM is not used');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicy, PolicyError, validatePolicy } from '../../attest/index.ts';
import { makeKey } from '../fixtures/attest/keys.ts';

const ISS = 'https://token.actions.githubusercontent.com';
const good = () => ({
  version: 1,
  name: 'widget',
  signatures: {
    threshold: 2,
    identities: [{ issuer: ISS, subject: 'https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main', required: true }],
    keys: [{ keyid: 'k1', publicKey: makeKey('ecdsa-sha2-nistp256').pem, scheme: 'ecdsa-sha2-nistp256' }],
    sigstore: { tlogThreshold: 1, ctlogThreshold: 0 },
  },
  provenance: { builderId: 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml', sourceUri: 'github.com/acme/widget', sourceVersionedTag: 'v1.2', buildWorkflowInputs: { a: 'b' } },
});

function pathOf(mutate: (p: any) => void): string {
  const p = good();
  mutate(p);
  try {
    validatePolicy(p);
  } catch (e) {
    assert.ok(e instanceof PolicyError, String(e));
    assert.equal(e.code, 'POLICY_INVALID');
    assert.equal(e.exitCode, 2);
    return e.path;
  }
  assert.fail('policy was accepted');
}

test('a complete policy validates, with defaults filled in, and is digested', () => {
  const bytes = Buffer.from(JSON.stringify(good()));
  const lp = loadPolicy(bytes, 'tuf:policy.json');
  assert.equal(lp.policy.signatures!.required, true);
  assert.equal(lp.policy.provenance!.required, true);
  assert.equal(lp.keys.length, 1);
  assert.match(lp.digest.sha256, /^[0-9a-f]{64}$/);
  assert.equal(lp.uri, 'tuf:policy.json');
});

test('every error names the offending JSON path', () => {
  assert.equal(pathOf((p) => (p.version = 2)), '$.version');
  assert.equal(pathOf((p) => (p.extra = 1)), '$.extra');
  assert.equal(pathOf((p) => (p.provenance.builderID = 'x')), '$.provenance.builderID');
  assert.equal(pathOf((p) => delete p.provenance.sourceUri), '$.provenance.sourceUri');
  assert.equal(pathOf((p) => (p.provenance.sourceVersionedTag = 'latest')), '$.provenance.sourceVersionedTag');
  assert.equal(pathOf((p) => (p.provenance.buildWorkflowInputs.a = 1)), '$.provenance.buildWorkflowInputs.a');
  assert.equal(pathOf((p) => (p.provenance.builderId = 'a@b@c')), '$.provenance.builderId');
  assert.equal(pathOf((p) => (p.signatures.threshold = 3)), '$.signatures.threshold');
  assert.equal(pathOf((p) => (p.signatures.threshold = 0)), '$.signatures.threshold');
  assert.equal(pathOf((p) => (p.signatures.threshold = 1.5)), '$.signatures.threshold');
  assert.equal(pathOf((p) => delete p.signatures.identities[0].issuer), '$.signatures.identities[0].issuer');
  assert.equal(pathOf((p) => (p.signatures.identities[0].subjectPattern = '.*')), '$.signatures.identities[0]');
  assert.equal(pathOf((p) => (p.signatures.identities[0] = { issuer: ISS, subjectPattern: '(' })), '$.signatures.identities[0].subjectPattern');
  assert.equal(pathOf((p) => (p.signatures.identities[0].required = 'yes')), '$.signatures.identities[0].required');
  assert.equal(pathOf((p) => (p.signatures.keys[0].publicKey = 'not a key')), '$.signatures.keys[0].publicKey');
  assert.equal(pathOf((p) => (p.signatures.keys[0].scheme = 'ed25519')), '$.signatures.keys[0].publicKey');
  assert.equal(pathOf((p) => (p.signatures.keys[0].scheme = 'rot13')), '$.signatures.keys[0].scheme');
  assert.equal(pathOf((p) => p.signatures.keys.push({ ...p.signatures.keys[0] })), '$.signatures.keys[1].keyid');
  assert.equal(pathOf((p) => p.signatures.keys.push({ ...p.signatures.keys[0], keyid: 'k2' })), '$.signatures.keys[1].publicKey');
  assert.equal(pathOf((p) => (p.signatures.sigstore.tlogThreshold = -1)), '$.signatures.sigstore.tlogThreshold');
  assert.equal(pathOf((p) => (p.signatures = { identities: [], keys: [] })), '$.signatures');
  assert.equal(pathOf((p) => (p.signatures.keys = {})), '$.signatures.keys');
  // The sbom and vulnerabilities sections are validated by their modules, with the same paths.
  assert.equal(pathOf((p) => (p.sbom = { bogus: true })), '$.sbom.bogus');
  assert.equal(pathOf((p) => (p.vulnerabilities = { maxSeverity: 11 })), '$.vulnerabilities.maxSeverity');
});

test('hostile policy documents are refused as policy errors', () => {
  assert.throws(() => loadPolicy('{'), (e: PolicyError) => e.path === '$' && /not valid JSON/.test(e.message));
  assert.throws(() => loadPolicy('['.repeat(1000)), (e: PolicyError) => e.path === '$' && /deeper/.test(e.message));
  assert.throws(() => loadPolicy('[]'), (e: PolicyError) => e.path === '$');
  assert.throws(() => loadPolicy(Buffer.alloc(5 * 1024 * 1024, 0x20)), (e: PolicyError) => /limit/.test(e.message));
});

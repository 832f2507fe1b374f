import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builderIdMismatch, checkProvenance, normalizeGitUri, parseStatement, versionedTagMismatch, type Check, type ProvenanceExpectations } from '../../attest/index.ts';
import { GENERIC_BUILDER, provenanceV02, provenanceV1Generator, provenanceV1GitHub, sha256hex, type ProvenanceOptions } from '../fixtures/attest/provenance.ts';

const ART = sha256hex('binary');
const subjects = [{ name: 'widget', digest: { sha256: ART } }];
const artifact = { sha256: ART };
const BUILDER = `${GENERIC_BUILDER}@refs/tags/v1.9.0`;

function run(make: (o: ProvenanceOptions) => unknown, o: Partial<ProvenanceOptions>, exp: ProvenanceExpectations, signer?: { subjectAlternativeName?: string; issuer?: string }): Map<string, Check> {
  const st = parseStatement(JSON.stringify(make({ subjects, ...o })));
  const checks = checkProvenance(st, exp, artifact, signer);
  return new Map(checks.map((c) => [c.id, c]));
}

const formats = [['v0.2 (slsa-github-generator)', provenanceV02], ['v1 (slsa-github-generator)', provenanceV1Generator]] as const;

for (const [label, make] of formats) {
  test(`${label}: all expectations met`, () => {
    const c = run(make, { ref: 'refs/tags/v1.2.3', eventName: 'push' }, { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget', sourceTag: 'v1.2.3', sourceVersionedTag: 'v1.2', sourceBranch: 'main' }, { subjectAlternativeName: BUILDER, issuer: 'https://token.actions.githubusercontent.com' });
    for (const [id, check] of c) assert.notEqual(check.status, 'failed', `${id}: ${check.reason}`);
    assert.equal(c.get('slsa.builder-signer')!.status, 'passed');
    assert.equal(c.get('slsa.source-branch')!.status, 'passed', 'a tag push records its base branch');
  });

  test(`${label}: wrong builder, untrusted builder, unpinned builder`, () => {
    const wrong = run(make, {}, { builderId: 'https://github.com/evil/builder/.github/workflows/b.yml', sourceUri: 'github.com/acme/widget' });
    assert.equal(wrong.get('slsa.builder-id')!.status, 'failed');
    assert.match(wrong.get('slsa.builder-id')!.reason, /expected builder https:\/\/github.com\/evil.*found https:\/\/github.com\/slsa-framework/);
    const unpinned = run(make, { builderId: `${GENERIC_BUILDER}@refs/heads/main` }, { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget' });
    assert.match(unpinned.get('slsa.builder-id')!.reason, /pinned at refs\/tags\/vX\.Y\.Z, found .*@refs\/heads\/main/);
    const prerelease = run(make, { builderId: `${GENERIC_BUILDER}@refs/tags/v1.9.0-rc1` }, { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget' });
    assert.equal(prerelease.get('slsa.builder-id')!.status, 'failed');
    const exactVersion = run(make, {}, { builderId: `${GENERIC_BUILDER}@v1.9.0`, sourceUri: 'github.com/acme/widget' });
    assert.equal(exactVersion.get('slsa.builder-id')!.status, 'passed', 'name@vX.Y.Z matches name@refs/tags/vX.Y.Z');
    const otherVersion = run(make, {}, { builderId: `${GENERIC_BUILDER}@v1.8.0`, sourceUri: 'github.com/acme/widget' });
    assert.match(otherVersion.get('slsa.builder-id')!.reason, /expected builder version v1.8.0, found refs\/tags\/v1.9.0/);
    const defaults = run(make, { builderId: 'https://github.com/acme/widget/.github/workflows/own.yml@refs/tags/v1.0.0' }, { sourceUri: 'github.com/acme/widget' });
    assert.match(defaults.get('slsa.builder-id')!.reason, /trusted builders/);
  });

  test(`${label}: the certificate must be the builder`, () => {
    const c = run(make, {}, { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget' }, { subjectAlternativeName: 'https://github.com/acme/widget/.github/workflows/forge.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com' });
    assert.equal(c.get('slsa.builder-signer')!.status, 'failed');
    assert.match(c.get('slsa.builder-signer')!.reason, /expected the provenance to be signed by its builder .*found certificate identity .*forge.yml/);
  });

  test(`${label}: wrong source`, () => {
    const c = run(make, {}, { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/other' });
    assert.equal(c.get('slsa.source-uri')!.status, 'failed');
    assert.match(c.get('slsa.source-uri')!.reason, /expected source git\+https:\/\/github.com\/acme\/other, found trigger git\+https:\/\/github.com\/acme\/widget@refs\/heads\/main/);
    // Prefix tricks do not pass: acme/widget-evil is not acme/widget.
    const evil = run(make, { repo: 'acme/widget-evil' }, { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget' });
    assert.equal(evil.get('slsa.source-uri')!.status, 'failed');
    for (const form of ['github.com/acme/widget', 'https://github.com/acme/widget', 'git+https://github.com/acme/widget']) {
      assert.equal(run(make, {}, { builderId: GENERIC_BUILDER, sourceUri: form }).get('slsa.source-uri')!.status, 'passed', form);
    }
  });

  test(`${label}: branch and tag mismatches name expected and found`, () => {
    const onMain = run(make, { ref: 'refs/heads/main' }, { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget', sourceBranch: 'release', sourceTag: 'v1.0.0' });
    assert.equal(onMain.get('slsa.source-branch')!.reason, 'expected branch release, found main');
    assert.equal(onMain.get('slsa.source-tag')!.reason, 'expected tag v1.0.0, found no tag');
    const onTag = run(make, { ref: 'refs/tags/v1.2.4' }, { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget', sourceTag: 'v1.2.3', sourceVersionedTag: 'v1.3' });
    assert.equal(onTag.get('slsa.source-tag')!.reason, 'expected tag v1.2.3, found v1.2.4');
    assert.match(onTag.get('slsa.source-versioned-tag')!.reason, /expected minor version 1.3, found 1.2/);
  });

  test(`${label}: subject mismatch and sha512-only subject`, () => {
    const c = run(make, { subjects: [{ name: 'widget', digest: { sha256: sha256hex('other') } }] }, { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget' });
    assert.equal(c.get('slsa.subject')!.status, 'failed');
    const sha512only = run(make, { subjects: [{ name: 'widget', digest: { sha512: 'ab'.repeat(64) } }] }, { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget' });
    assert.match(sha512only.get('slsa.subject')!.reason, /subjects offer sha512, the artifact is known by sha256/);
  });

  test(`${label}: workflow inputs`, () => {
    const exp = { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget', buildWorkflowInputs: { release: 'true', channel: 'stable' } };
    const good = run(make, { eventName: 'workflow_dispatch', inputs: { release: 'true', channel: 'stable', extra: 'x' } }, exp);
    assert.equal(good.get('slsa.workflow-inputs')!.status, 'passed');
    const bad = run(make, { eventName: 'workflow_dispatch', inputs: { release: 'false' } }, exp);
    assert.equal(bad.get('slsa.workflow-inputs')!.reason, 'expected release=true, found release=false; expected channel=stable, found no such input');
    const push = run(make, { eventName: 'push' }, exp);
    assert.equal(push.get('slsa.workflow-inputs')!.reason, `expected a 'workflow_dispatch' trigger, found "push"`);
  });
}

test('GitHub artifact attestation provenance (externalParameters.workflow)', () => {
  const repoWf = 'https://github.com/acme/widget/.github/workflows/release.yml';
  const ok = run(provenanceV1GitHub, { ref: 'refs/tags/v2.0.1' }, { builderId: `${repoWf}@refs/tags/v2.0.1`, sourceUri: 'github.com/acme/widget', sourceTag: 'v2.0.1', sourceVersionedTag: 'v2' }, { subjectAlternativeName: `${repoWf}@refs/tags/v2.0.1`, issuer: 'https://token.actions.githubusercontent.com' });
  for (const [id, check] of ok) assert.notEqual(check.status, 'failed', `${id}: ${check.reason}`);
  const branch = run(provenanceV1GitHub, { ref: 'refs/heads/dev' }, { builderId: `${repoWf}@refs/heads/dev`, sourceUri: 'github.com/acme/widget', sourceBranch: 'main' });
  assert.equal(branch.get('slsa.source-branch')!.reason, 'expected branch main, found dev');
  const inputs = run(provenanceV1GitHub, { eventName: 'workflow_dispatch', inputs: { env: 'prod' } }, { builderId: `${repoWf}@refs/heads/main`, sourceUri: 'github.com/acme/widget', buildWorkflowInputs: { env: 'staging' } });
  assert.equal(inputs.get('slsa.workflow-inputs')!.reason, 'expected env=staging, found env=prod');
  const wrongIssuer = run(provenanceV1GitHub, {}, { builderId: `${repoWf}@refs/heads/main`, sourceUri: 'github.com/acme/widget' }, { subjectAlternativeName: `${repoWf}@refs/heads/main`, issuer: 'https://accounts.google.com' });
  assert.match(wrongIssuer.get('slsa.builder-signer')!.reason, /expected a certificate issued for https:\/\/token.actions.githubusercontent.com/);
});

test('versioned tags follow semver: v1 matches v1.x.y, v1.2 matches v1.2.x, build metadata is ignored', () => {
  const ok = (found: string, exp: string) => assert.equal(versionedTagMismatch(found, exp), undefined, `${found} ~ ${exp}`);
  const no = (found: string, exp: string) => assert.notEqual(versionedTagMismatch(found, exp), undefined, `${found} !~ ${exp}`);
  ok('v1.2.3', 'v1');
  ok('v1.0.0', 'v1');
  ok('v1.2.3', 'v1.2');
  ok('v1.2.3', 'v1.2.3');
  ok('v1.2.3+build.5', 'v1.2.3');
  ok('v1.2.3', 'v1.2.3+other');
  ok('v1.2.3-alpha.1', 'v1.2.3-alpha.1');
  ok('v1.2', 'v1.2.0');
  ok('v10.0.1', 'v10');
  no('v2.0.0', 'v1');
  no('v1.3.0', 'v1.2');
  no('v1.2.4', 'v1.2.3');
  no('v1.2.3-alpha', 'v1.2.3');
  no('v1.2.3', 'v1.2.3-alpha');
  no('v10.0.1', 'v1');
  no('release-1.2', 'v1');
  assert.match(versionedTagMismatch('v1.2.3', 'one')!, /not semver/);
});

test('builder id parsing refuses ambiguity', () => {
  assert.match(builderIdMismatch('https://x/y@a@b', 'https://x/y')!, /malformed/);
  assert.match(builderIdMismatch('https://x/y@', 'https://x/y')!, /malformed/);
  assert.equal(builderIdMismatch('https://cloudbuild.googleapis.com/GoogleHostedWorker', 'https://cloudbuild.googleapis.com/GoogleHostedWorker'), undefined);
});

test('git URI normalisation is slsa-verifier\'s', () => {
  assert.equal(normalizeGitUri('github.com/a/b'), 'git+https://github.com/a/b');
  assert.equal(normalizeGitUri('https://github.com/a/b'), 'git+https://github.com/a/b');
  assert.equal(normalizeGitUri('git+ssh://github.com/a/b'), 'git+ssh://github.com/a/b');
});

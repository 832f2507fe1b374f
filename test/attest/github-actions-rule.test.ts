// The GitHub Actions rule, attacked: with SLSA expectations and no identity or key, a GitHub
// Actions certificate is trusted only for provenance whose builder it is (or a trusted delegator
// for it); for a GitHub runner builder (npm CLI provenance) the certificate's runner, repository,
// ref and commit must be the provenance's. Certificates come from the local Sigstore testbed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AttestError, fulcioClaims, verifyArtifact, type Check, type VerifyResult } from '../../attest/index.ts';
import { GITHUB_ISSUER, SigstoreTestbed, WORKFLOW } from '../fixtures/attest/sigstore.ts';
import { GENERIC_BUILDER, provenanceV1Generator, provenanceV1GitHub, sha256hex } from '../fixtures/attest/provenance.ts';
import { tempDir, type TempDir } from '../fixtures/attest/files.ts';

const tb = new SigstoreTestbed();
const HOSTED = 'https://github.com/actions/runner/github-hosted';
const REF = 'refs/tags/v1.0.0';
const SHA = 'a'.repeat(40);
const RELEASE = `https://github.com/acme/widget/.github/workflows/release.yml@${REF}`;
const CLAIMS = { 11: 'github-hosted', 12: 'https://github.com/acme/widget', 13: SHA, 14: REF };
let t: TempDir;
let artifact: string;
let trustedRoot: string;
let digest: string;
const byId = (r: VerifyResult) => new Map(r.checks.map((c: Check) => [c.id, c]));

before(() => {
  t = tempDir();
  const bytes = Buffer.from('widget-1.0.0.tgz');
  artifact = t.write('widget-1.0.0.tgz', bytes);
  digest = sha256hex(bytes);
  trustedRoot = t.write('trusted_root.json', JSON.stringify(tb.trustedRoot()));
});
after(() => t.remove());

/** npm CLI-style provenance (builder: the GitHub-hosted runner) signed by a workflow certificate with `claims`. */
function npmBundle(name: string, claims: Record<number, string>, san = RELEASE): string {
  const statement = provenanceV1GitHub({ subjects: [{ name: 'pkg:npm/%40acme/widget@1.0.0', digest: { sha256: digest } }], builderId: HOSTED, ref: REF, sha: SHA, eventName: 'push' });
  const leaf = tb.issueLeaf({ san, issuer: GITHUB_ISSUER, claims });
  return t.write(name, JSON.stringify(tb.bundle({ version: '0.3', content: { statement }, signer: { leaf } })));
}

const verify = (bundles: string[], provenance: Record<string, string>, identities = false) =>
  verifyArtifact({
    artifact,
    bundles,
    trustedRoot,
    expectations: { provenance, ...(identities ? { identities: [{ issuer: GITHUB_ISSUER, subjectPattern: 'https://github\\.com/acme/.*' }] } : {}) },
  });
const NPM = { sourceUri: 'github.com/acme/widget', builderId: HOSTED };

test('rule: npm runner provenance whose certificate matches it is allowed, and the rule is stated', async () => {
  const r = await verify([npmBundle('ok.json', CLAIMS)], NPM);
  assert.equal(r.decision, 'allow', JSON.stringify(r.checks, null, 1));
  const c = byId(r);
  assert.equal(c.get('signatures.github-actions')!.status, 'passed');
  assert.match(c.get('slsa.builder-signer')!.reason, /on a github-hosted runner for https:\/\/github.com\/acme\/widget@refs\/tags\/v1.0.0/);
  // Package expectations need npm's own publish attestation, which only the registry can sign.
  const p = await verify([npmBundle('ok-pkg.json', CLAIMS)], { ...NPM, packageName: '@acme/widget' });
  assert.equal(p.decision, 'deny');
  assert.match(byId(p).get('slsa.package-name')!.reason, /expected npm's registry publish attestation for package name @acme\/widget/);
});

test('rule: the certificate must agree with the runner provenance (hosting, repository, ref, commit, presence)', async () => {
  const bad: Array<[string, Record<number, string>, RegExp]> = [
    ['self-hosted.json', { ...CLAIMS, 11: 'self-hosted' }, /expected a github-hosted runner .*found a certificate for a self-hosted runner/],
    ['other-repo.json', { ...CLAIMS, 12: 'https://github.com/evil/widget' }, /expected a certificate for repository git\+https:\/\/github.com\/acme\/widget, found https:\/\/github.com\/evil\/widget/],
    ['other-ref.json', { ...CLAIMS, 14: 'refs/heads/attacker' }, /trigger .* to be the certificate's https:\/\/github.com\/acme\/widget@refs\/heads\/attacker/],
    ['other-commit.json', { ...CLAIMS, 13: 'b'.repeat(40) }, /source commit a{40} to be the certificate's b{40}/],
    ['no-claims.json', {}, /does not name the runner environment/],
  ];
  for (const [file, claims, why] of bad) {
    const r = await verify([npmBundle(file, claims)], NPM);
    assert.equal(r.decision, 'deny', file);
    assert.match(byId(r).get('slsa.builder-signer')!.reason, why, file);
  }
  // No source URI: nothing binds a runner build to a repository.
  const r = await verify([npmBundle('ok2.json', CLAIMS)], { builderId: HOSTED });
  assert.equal(r.decision, 'deny');
  assert.match(byId(r).get('slsa.builder-signer')!.reason, /expected a source URI/);
});

test('with a configured identity, the runner hosting is still checked against the certificate', async () => {
  assert.equal((await verify([npmBundle('self-hosted2.json', { ...CLAIMS, 11: 'self-hosted' })], NPM, true)).decision, 'deny');
  const ok = await verify([npmBundle('no-claims2.json', {})], NPM, true);
  assert.equal(ok.decision, 'allow', JSON.stringify(ok.checks, null, 1));
  assert.equal(byId(ok).get('signatures.github-actions'), undefined, 'the rule applies only without identities or keys');
  assert.equal(byId(ok).get('slsa.builder-signer')!.status, 'not-applicable');
});

test('rule: a workflow signing anything but provenance is not used; a workflow forging a trusted builder is refused', async () => {
  const bytes = Buffer.from('widget-1.0.0.tgz');
  const msg = t.write('msg.sigstore.json', JSON.stringify(tb.bundle({ version: '0.3', content: { artifact: bytes }, signer: { leaf: tb.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER }) } })));
  const r = await verify([msg], { sourceUri: 'github.com/acme/widget' });
  assert.equal(r.decision, 'deny');
  assert.equal(byId(r).get('sigstore.bundle[0]')!.status, 'not-applicable');
  assert.match(byId(r).get('sigstore.bundle[0]')!.reason, /only SLSA provenance from a GitHub Actions builder is used; not used/);
  assert.equal(byId(r).get('signatures.threshold')!.status, 'failed');

  const statement = provenanceV1Generator({ subjects: [{ name: 'widget', digest: { sha256: digest } }], ref: REF });
  const forged = t.write('forged.json', JSON.stringify(tb.bundle({ version: '0.3', content: { statement }, signer: { leaf: tb.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER }) } })));
  const f = await verify([forged], { sourceUri: 'github.com/acme/widget' });
  assert.equal(f.decision, 'deny');
  assert.match(byId(f).get('slsa.builder-signer')!.reason, /expected the provenance to be signed by its builder/);

  const real = t.write('real.json', JSON.stringify(tb.bundle({ version: '0.3', content: { statement }, signer: { leaf: tb.issueLeaf({ san: `${GENERIC_BUILDER}@refs/tags/v1.9.0`, issuer: GITHUB_ISSUER }) } })));
  const ok = await verify([real, msg], { sourceUri: 'github.com/acme/widget' });
  assert.equal(ok.decision, 'allow', JSON.stringify(ok.checks, null, 1));
  assert.match(byId(ok).get('signatures.threshold')!.reason, /1 distinct trusted signer/);
});

test('rule: a slsa-github-generator BYOB builder is trusted by default only through a delegator, not by signing for itself', async () => {
  const maven = 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_maven_slsa3.yml@refs/tags/v2.1.0';
  const statement = provenanceV1Generator({ subjects: [{ name: 'widget', digest: { sha256: digest } }], ref: REF, builderId: maven }) as { predicate: { buildDefinition: { buildType: string } } };
  statement.predicate.buildDefinition.buildType = 'https://github.com/slsa-framework/slsa-github-generator/delegator-generic@v0';
  const signed = (file: string, san: string) => t.write(file, JSON.stringify(tb.bundle({ version: '0.3', content: { statement }, signer: { leaf: tb.issueLeaf({ san, issuer: GITHUB_ISSUER }) } })));
  const viaDelegator = await verify([signed('byob-ok.json', 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/delegator_lowperms-generic_slsa3.yml@refs/tags/v2.1.0')], { sourceUri: 'github.com/acme/widget' });
  assert.equal(viaDelegator.decision, 'allow', JSON.stringify(viaDelegator.checks, null, 1));
  const self = await verify([signed('byob-self.json', maven)], { sourceUri: 'github.com/acme/widget' });
  assert.equal(self.decision, 'deny');
  assert.match(byId(self).get('slsa.builder-signer')!.reason, /vouched for by one of slsa-github-generator's delegators .*found it signed by itself/);
});

test('rule: a policy with provenance and no signatures gets the same rule', async () => {
  const policy = t.write('policy.json', JSON.stringify({ version: 1, provenance: { sourceUri: 'github.com/acme/widget', builderId: HOSTED } }));
  const r = await verifyArtifact({ artifact, bundles: [npmBundle('ok3.json', CLAIMS)], trustedRoot, policy });
  assert.equal(r.decision, 'allow', JSON.stringify(r.checks, null, 1));
  assert.equal(byId(r).get('signatures.github-actions')!.status, 'passed');
  const wrong = t.write('policy2.json', JSON.stringify({ version: 1, provenance: { sourceUri: 'github.com/acme/widget', builderId: `${HOSTED}/other` } }));
  assert.equal((await verifyArtifact({ artifact, bundles: [npmBundle('ok4.json', CLAIMS)], trustedRoot, policy: wrong })).decision, 'deny');
});

test('Fulcio claims: read from real and fixture certificates; hostile DER is refused, never a crash', () => {
  const leaf = tb.issueLeaf({ san: RELEASE, issuer: GITHUB_ISSUER, claims: { ...CLAIMS, 5: 'acme/old' } });
  assert.deepEqual(fulcioClaims(leaf.cert), { issuer: GITHUB_ISSUER, sourceRepositoryUri: 'https://github.com/acme/widget', sourceRepositoryRef: REF, sourceRepositoryDigest: SHA, runnerEnvironment: 'github-hosted' });
  // Deprecated claims only (older certificates).
  assert.equal(fulcioClaims(tb.issueLeaf({ san: RELEASE, issuer: GITHUB_ISSUER, claims: { 5: 'acme/old', 6: 'refs/heads/main' } }).cert).sourceRepositoryUri, 'https://github.com/acme/old');
  const der = leaf.cert;
  const refused = (b: Uint8Array, what: string) =>
    assert.throws(() => fulcioClaims(b), (e: unknown) => e instanceof AttestError && e.code === 'SIGSTORE_CERTIFICATE_MALFORMED', what);
  refused(der.subarray(0, der.length - 1), 'truncated');
  refused(Buffer.concat([der, Buffer.from([0])]), 'trailing byte');
  const long = Buffer.from(der);
  long[1] = 0x84; // a 4-byte length field claiming far more than there is
  refused(long, 'overlong length');
  refused(Buffer.from([0x30, 0x80]), 'indefinite length');
  refused(Buffer.alloc(0), 'empty');
  for (let i = 0; i < 300; i++) {
    const fuzz = Buffer.from(der);
    for (let j = 0; j < 4; j++) fuzz[randomBytes(4).readUInt32BE() % fuzz.length] = randomBytes(1)[0]!;
    try {
      fulcioClaims(fuzz);
    } catch (e) {
      assert.ok(e instanceof AttestError, `fuzz ${i}: ${(e as Error).message}`);
    }
  }
});

// The verification pipeline end to end with DSSE attestations signed by policy keys, and the
// `tollgate verify` command through the real dispatcher.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { envelopeToJSON, signEnvelope, softwareSigner, verifyArtifact, verifyEnvelope, makeVerificationKey, parseEnvelope, type Check, type VerifyResult } from '../../attest/index.ts';
import { runCli } from '../../agent/cli.ts';
import { commands as verifyCommands } from '../../agent/commands/verify.ts';
import { makeKey, type TestKey } from '../fixtures/attest/keys.ts';
import { GENERIC_BUILDER, provenanceV1Generator, sha256hex } from '../fixtures/attest/provenance.ts';
import { tempDir, type TempDir } from '../fixtures/attest/files.ts';

let t: TempDir;
let key: TestKey;
let other: TestKey;
let artifact: string;
let artDigest: string;
let goodAtt: string;
const BUILDER = `${GENERIC_BUILDER}@refs/tags/v1.9.0`;

async function attestation(k: TestKey, statement: unknown, keyid = 'release'): Promise<string> {
  const env = await signEnvelope('application/vnd.in-toto+json', Buffer.from(JSON.stringify(statement)), [softwareSigner(k.privateKey, { keyid })]);
  return JSON.stringify(envelopeToJSON(env));
}

function policy(extra: Record<string, unknown> = {}, keys = [key]): string {
  return JSON.stringify({
    version: 1,
    signatures: { keys: keys.map((k, i) => ({ keyid: `release${i || ''}`, publicKey: k.pem })) },
    provenance: { builderId: GENERIC_BUILDER, sourceUri: 'github.com/acme/widget', sourceBranch: 'main' },
    ...extra,
  });
}

const byId = (r: VerifyResult) => new Map(r.checks.map((c: Check) => [c.id, c]));

before(async () => {
  t = tempDir();
  key = makeKey('ecdsa-sha2-nistp256');
  other = makeKey('ed25519');
  artifact = t.write('widget.tar.gz', 'widget release bytes');
  artDigest = sha256hex('widget release bytes');
  goodAtt = t.write('good.intoto.json', await attestation(key, provenanceV1Generator({ subjects: [{ name: 'widget.tar.gz', digest: { sha256: artDigest } }] })));
});
after(() => t.remove());

test('allow: signed provenance about the artifact meets the policy; the VSA says PASSED', async () => {
  const now = new Date('2026-01-02T03:04:05Z');
  const r = await verifyArtifact({ artifact, attestations: [goodAtt], policy: t.write('p.json', policy()), now, vsaSigner: softwareSigner(other.privateKey, { keyid: 'device' }) });
  assert.equal(r.decision, 'allow', JSON.stringify(r.checks, null, 1));
  const c = byId(r);
  assert.equal(c.get('dsse.attestation[0]')!.status, 'passed');
  assert.equal(c.get('signatures.threshold')!.status, 'passed');
  assert.equal(c.get('slsa.provenance')!.status, 'passed');
  assert.equal(c.get('slsa.builder-id')!.status, 'passed');
  assert.equal(c.get('slsa.source-branch')!.status, 'passed');
  const p = r.vsa.predicate as Record<string, any>;
  assert.equal(r.vsa.predicateType, 'https://slsa.dev/verification_summary/v1');
  assert.equal(p.verificationResult, 'PASSED');
  assert.equal(p.timeVerified, '2026-01-02T03:04:05.000Z');
  assert.deepEqual(p.verifiedLevels, ['SLSA_BUILD_LEVEL_2']);
  assert.equal(p.policy.digest.sha256, sha256hex(policy()));
  assert.deepEqual(p.inputAttestations, [{ uri: goodAtt, digest: { sha256: sha256hex(readFileSync(goodAtt)) } }]);
  assert.deepEqual(r.vsa.subject, [{ name: 'widget.tar.gz', digest: { sha256: artDigest } }]);
  // The signed VSA verifies with the device key.
  const env = parseEnvelope(JSON.stringify(r.vsaEnvelope));
  assert.equal(verifyEnvelope(env, [makeVerificationKey('device', other.pem)]).verified, true);
  assert.deepEqual(JSON.parse(env.payload.toString()), r.vsa);
});

test('deny: an attestation signed by a key the policy does not trust', async () => {
  const forged = t.write('forged.json', await attestation(other, provenanceV1Generator({ subjects: [{ name: 'w', digest: { sha256: artDigest } }] }), 'release'));
  const r = await verifyArtifact({ artifact, attestations: [forged], policy: t.write('p.json', policy()) });
  assert.equal(r.decision, 'deny');
  const c = byId(r);
  assert.match(c.get('dsse.attestation[0]')!.reason, /no trusted key \(release\) verified any of its 1 signature/);
  assert.equal(c.get('signatures.threshold')!.status, 'failed');
  assert.match(c.get('slsa.provenance')!.reason, /no verified SLSA provenance/, 'unverified provenance is never used');
  assert.equal((r.vsa.predicate as any).verificationResult, 'FAILED');
  assert.deepEqual((r.vsa.predicate as any).verifiedLevels, ['FAILED']);
});

test('deny: a valid attestation about another artifact', async () => {
  const r = await verifyArtifact({ artifact: t.write('other.bin', 'other'), attestations: [goodAtt], policy: t.write('p.json', policy()) });
  assert.equal(r.decision, 'deny');
  assert.match(byId(r).get('dsse.attestation[0]')!.reason, /signature valid but the statement is not about this artifact: expected a subject with sha256:/);
});

test('deny: wrong builder and wrong source through the pipeline, each naming expected and found', async () => {
  const r = await verifyArtifact({ artifact, attestations: [goodAtt], policy: t.write('p.json', policy()), expectations: { provenance: { sourceUri: 'github.com/acme/gadget', builderId: 'https://github.com/evil/b/.github/workflows/x.yml' } } });
  assert.equal(r.decision, 'deny');
  const c = byId(r);
  assert.match(c.get('slsa.source-uri')!.reason, /expected source git\+https:\/\/github.com\/acme\/gadget, found trigger/);
  assert.match(c.get('slsa.builder-id')!.reason, /expected builder https:\/\/github.com\/evil\/b.*, found https:\/\/github.com\/slsa-framework/);
});

test('threshold 2 needs two distinct keys; one key twice is not enough', async () => {
  const two = JSON.stringify({ version: 1, signatures: { threshold: 2, keys: [{ keyid: 'a', publicKey: key.pem }, { keyid: 'b', publicKey: other.pem }] } });
  const statement = { _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://example.com/release', subject: [{ name: 'w', digest: { sha256: artDigest } }], predicate: {} };
  const sa = softwareSigner(key.privateKey, { keyid: 'a' });
  const twiceA = t.write('twice.json', JSON.stringify(envelopeToJSON(await signEnvelope('application/vnd.in-toto+json', Buffer.from(JSON.stringify(statement)), [sa, { keyid: 'b', sign: sa.sign }]))));
  const r1 = await verifyArtifact({ artifact, attestations: [twiceA, twiceA], policy: t.write('p2.json', two) });
  assert.equal(r1.decision, 'deny');
  assert.match(byId(r1).get('signatures.threshold')!.reason, /expected 2 distinct trusted signer\(s\) of the artifact, found 1/);
  const both = t.write('both.json', JSON.stringify(envelopeToJSON(await signEnvelope('application/vnd.in-toto+json', Buffer.from(JSON.stringify(statement)), [sa, softwareSigner(other.privateKey, { keyid: 'b' })]))));
  const r2 = await verifyArtifact({ artifact, attestations: [both], policy: t.write('p2.json', two) });
  assert.equal(r2.decision, 'allow', JSON.stringify(r2.checks, null, 1));
});

test('a required key must be among the signers even when the threshold is met', async () => {
  const p = JSON.stringify({ version: 1, signatures: { threshold: 1, keys: [{ keyid: 'a', publicKey: key.pem }, { keyid: 'b', publicKey: other.pem, required: true }] } });
  const r = await verifyArtifact({ artifact, attestations: [goodAtt], policy: t.write('p3.json', p) });
  assert.equal(r.decision, 'deny');
  assert.match(byId(r).get('signatures.threshold')!.reason, /required signer\(s\) missing: key b/);
});

test('hostile evidence is a failed check, never a crash; other evidence is still judged', async () => {
  const bad = t.write('bad.jsonl', [
    JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: '!!!', signatures: [{ sig: 'AAAA' }] }),
    readFileSync(goodAtt, 'utf8'),
    JSON.stringify({ payloadType: 'text/plain', payload: 'aGk=', signatures: [{ sig: 'AAAA' }] }),
    '{"hello": "world"}',
  ].join('\n'));
  const deep = t.write('deep.json', '['.repeat(200_000));
  const huge = t.write('huge.json', '');
  truncateSync(huge, 65 * 1024 * 1024); // sparse: refused by size before it is read
  const r = await verifyArtifact({ artifact, attestations: [bad, deep, huge], policy: t.write('p.json', policy()) });
  assert.equal(r.decision, 'deny');
  const c = byId(r);
  assert.match(c.get('dsse.attestation[0]')!.reason, /bad.jsonl#1: .*not base64/);
  assert.equal(c.get('dsse.attestation[1]')!.status, 'passed');
  assert.match(c.get('dsse.attestation[2]')!.reason, /payloadType "text\/plain" is not application\/vnd.in-toto\+json/);
  assert.match(c.get('dsse.attestation[3]')!.reason, /neither a Sigstore bundle .* nor a DSSE envelope/);
  assert.match(c.get('dsse.attestation[4]')!.reason, /deeper than/);
  assert.match(c.get('dsse.attestation[5]')!.reason, /more than the 64 MiB \(67108864 bytes\) limit/);
  assert.equal(c.get('slsa.provenance')!.status, 'passed', 'the good line still counts');
});

test('digest-only verification: sha256:HEX stands in for the file', async () => {
  const r = await verifyArtifact({ artifact: `sha256:${artDigest}`, attestations: [goodAtt], policy: t.write('p.json', policy()) });
  assert.equal(r.decision, 'allow', JSON.stringify(r.checks, null, 1));
  assert.deepEqual(r.artifactDigests, { sha256: artDigest });
  const wrong = await verifyArtifact({ artifact: { sha256: sha256hex('x') }, attestations: [goodAtt], policy: t.write('p.json', policy()) });
  assert.equal(wrong.decision, 'deny');
});

test('nothing to check is a deny, not an allow', async () => {
  const r = await verifyArtifact({ artifact });
  assert.equal(r.decision, 'deny');
  assert.equal(byId(r).get('verify.nothing-checked')!.status, 'failed');
});

test('unsigned evidence authenticates nothing: dist/tollgate verify --sbom forged.json with no policy or keys is a deny naming what to configure', () => {
  const DIST = join(import.meta.dirname, '..', '..', 'dist', 'tollgate');
  assert.ok(existsSync(DIST), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
  // An SBOM anyone could write: it names the artifact's hash, so it "binds" to it, and lists nothing bad.
  const forged = t.write('forged.cdx.json', JSON.stringify({
    bomFormat: 'CycloneDX', specVersion: '1.5', version: 1,
    metadata: { component: { type: 'application', name: 'widget', version: '2.0.0', hashes: [{ alg: 'SHA-256', content: artDigest }] } },
    components: [{ type: 'library', name: 'left-pad', version: '1.3.0', purl: 'pkg:npm/left-pad@1.3.0', licenses: [{ license: { id: 'MIT' } }] }],
  }));
  const sbomOnly = t.write('sbom-only.policy.json', JSON.stringify({ version: 1, sbom: { required: true, licenses: { allow: ['MIT'] } } }));
  const run = (args: string[]) => spawnSync(DIST, ['verify', 'widget.tar.gz', ...args], { cwd: t.dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, timeout: 30_000 });
  const bare = run(['--sbom', forged]);
  assert.equal(bare.status, 1, bare.stdout + bare.stderr);
  assert.doesNotMatch(bare.stdout, /ALLOW/);
  assert.match(bare.stdout, /^PASS {2}sbom\.binding: /m, 'the SBOM is still read, as information');
  assert.match(bare.stdout, /^FAIL {2}verify\.authenticated: nothing trustworthy vouches for the artifact.*--key.*--certificate-identity/m);
  assert.match(bare.stdout, /^FAIL {2}verify\.nothing-checked: nothing was required of the artifact: give a policy \(--policy\)/m);
  // A policy that asks only for an SBOM does not make an unsigned SBOM trustworthy either.
  const json = run(['--sbom', forged, '--policy', sbomOnly, '--json']);
  assert.equal(json.status, 1, json.stdout + json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.decision, 'deny');
  assert.deepEqual(doc.checks.filter((c: Check) => c.status === 'failed').map((c: Check) => c.id), ['verify.authenticated']);
  // Signed by a trusted key: the same SBOM policy now allows.
  const signed = run(['--sbom', forged, '--policy', sbomOnly, '--attestation', 'good.intoto.json', '--key', t.write('k.pub', key.pem)]);
  assert.equal(signed.status, 0, signed.stdout + signed.stderr);
  assert.match(signed.stdout, /^PASS {2}verify\.authenticated: the artifact is authenticated by a trusted signature/m);
});

test('a policy that requires nothing verifies nothing; absent optional signatures authenticate nothing; a caller may vouch for the digest', async () => {
  const r = await verifyArtifact({ artifact, policy: t.write('empty.json', '{"version":1}') });
  assert.equal(r.decision, 'deny');
  assert.match(byId(r).get('verify.nothing-checked')!.reason, /requires nothing/);
  // Optional signatures that are absent authenticate nothing.
  const optional = await verifyArtifact({ artifact, sboms: [t.write('s.json', '{}')], policy: t.write('opt.json', JSON.stringify({ version: 1, signatures: { required: false, keys: [{ keyid: 'k', publicKey: key.pem }] } })) });
  assert.equal(optional.decision, 'deny');
  assert.equal(byId(optional).get('signatures.threshold')!.status, 'not-applicable');
  assert.equal(byId(optional).get('verify.authenticated')!.status, 'failed');
  // The caller may vouch for the digest (the gate: signed TUF targets metadata).
  const tuf = await verifyArtifact({ artifact, policy: t.write('sbom-opt.json', JSON.stringify({ version: 1, sbom: { required: false } })), authenticatedBy: 'TUF: test' });
  assert.equal(tuf.decision, 'allow', JSON.stringify(tuf.checks, null, 1));
  assert.match(byId(tuf).get('verify.authenticated')!.reason, /TUF: test/);
});

test('evidence without any trusted signer configured is refused', async () => {
  const r = await verifyArtifact({ artifact, attestations: [goodAtt] });
  assert.equal(r.decision, 'deny');
  assert.match(byId(r).get('dsse.attestation[0]')!.reason, /no trusted identities or keys are configured/);
});

// --- the command, through the real dispatcher --------------------------------------------------

const registry = verifyCommands.map((c) => ({ path: c.path, summary: c.summary, load: async () => ({ commands: verifyCommands }) }));
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {}, cwd: t.dir, tty: false }, registry);
  return { code, out, err };
}

test('tollgate verify: exit 0 on allow, 1 on deny, 2 on usage; --json is one document; --vsa-out is written', async () => {
  const pemPath = t.write('release.pub', key.pem);
  const ok = await cli(['verify', 'widget.tar.gz', '--attestation', 'good.intoto.json', '--key', pemPath, '--source-uri', 'github.com/acme/widget', '--builder-id', GENERIC_BUILDER, '--source-branch', 'main', '--vsa-out', 'vsa.json', '--json']);
  assert.equal(ok.code, 0, ok.out + ok.err);
  const doc = JSON.parse(ok.out);
  assert.equal(doc.decision, 'allow');
  assert.ok(doc.checks.some((c: Check) => c.id === 'slsa.source-branch' && c.status === 'passed'));
  assert.equal(JSON.parse(readFileSync(`${t.dir}/vsa.json`, 'utf8')).predicate.verificationResult, 'PASSED');

  const deny = await cli(['verify', 'widget.tar.gz', '--attestation', 'good.intoto.json', '--key', pemPath, '--source-uri', 'github.com/acme/widget', '--source-tag', 'v9.9.9']);
  assert.equal(deny.code, 1);
  assert.match(deny.out, /FAIL  slsa.source-tag: expected tag v9.9.9, found no tag/);
  assert.match(deny.out, /^DENY: 2 check\(s\) failed\.$/m);

  const digestOnly = await cli(['verify', `sha256:${artDigest}`, '--attestation', 'good.intoto.json', '--key', 'release.pub', '--source-uri', 'github.com/acme/widget', '--builder-id', BUILDER]);
  assert.equal(digestOnly.code, 0, digestOnly.out);

  assert.equal((await cli(['verify', 'widget.tar.gz', '--certificate-identity', 'x'])).code, 2);
  assert.equal((await cli(['verify', 'widget.tar.gz', '--certificate-identity', 'x', '--certificate-identity-regexp', 'y', '--certificate-oidc-issuer', 'z'])).code, 2);
  assert.equal((await cli(['verify', 'widget.tar.gz', '--build-workflow-input', 'novalue', '--key', pemPath])).code, 2);
  assert.equal((await cli(['verify', 'missing.bin', '--key', pemPath, '--attestation', 'good.intoto.json'])).code, 2);
  assert.equal((await cli(['verify', 'widget.tar.gz', '--policy', t.write('badpolicy.json', '{"version":1,"provenance":{}}')])).code, 2);
  const badPolicy = await cli(['verify', 'widget.tar.gz', '--json', '--policy', 'badpolicy.json']);
  assert.match(JSON.parse(badPolicy.out).error?.message ?? badPolicy.out, /\$\.provenance\.sourceUri/);
});

// Sigstore bundles against a real local trust chain (test/fixtures/attest/sigstore.ts): Fulcio-like
// CA, CT log with SCTs, Rekor v1 (SET + checkpoint + inclusion proof) and v2 (checkpoint + proof),
// RFC 3161 TSA — all verified by @sigstore/verify, with our identity, key-mode, digest and
// trusted-root rules around it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toTrustMaterial, toSignedEntity, Verifier } from '@sigstore/verify';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleFromJSON } from '@sigstore/bundle';
import { AttestError, hashBytes, type DigestSet, loadTrustedRoot, makeVerificationKey, parseBundle, publicGoodTrustedRoot, verifyBundle, type IdentityPolicy, type LoadedTrustedRoot } from '../../attest/index.ts';
import { GITHUB_ISSUER, SigstoreTestbed, T0, WORKFLOW, type BundleOptions, type Leaf } from '../fixtures/attest/sigstore.ts';
import { generateKeyPairSync } from 'node:crypto';

const tb = new SigstoreTestbed();
const root: LoadedTrustedRoot = loadTrustedRoot(JSON.stringify(tb.trustedRoot()), 'local trusted_root.json');
const artifact = Buffer.from('the artifact');
const digests = hashBytes(artifact, ['sha384', 'sha512']);
const me: IdentityPolicy = { issuer: GITHUB_ISSUER, subject: WORKFLOW };
const leaf = tb.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER });
const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'a', digest: { sha256: digests.sha256 } }], predicateType: 'https://example.com/p', predicate: {} };

function run(o: Partial<BundleOptions> & { signer?: BundleOptions['signer'] }, ctx: { identities?: IdentityPolicy[]; keys?: ReturnType<typeof makeVerificationKey>[]; bytes?: boolean; root?: LoadedTrustedRoot; options?: Record<string, number>; digests?: DigestSet } = {}) {
  const b = parseBundle(JSON.stringify(tb.bundle({ version: '0.3', content: { artifact }, signer: { leaf }, ...o })));
  return verifyBundle(b, {
    trustedRoot: ctx.root ?? root,
    identities: ctx.identities ?? [me],
    keys: ctx.keys ?? [],
    ...(ctx.options ? { options: ctx.options } : {}),
    artifact: { digests: ctx.digests ?? digests, ...(ctx.bytes ? { bytes: artifact } : {}) },
  });
}

for (const version of ['0.1', '0.2', '0.3'] as const) {
  for (const rekor of version === '0.1' ? (['v1'] as const) : (['v1', 'v2'] as const)) {
    test(`bundle v${version}, Rekor ${rekor}${rekor === 'v2' ? ' + TSA' : ''}: message signature (bytes and digest-only) and DSSE verify`, () => {
      for (const bytes of [true, false]) {
        const r = run({ version, rekor }, { bytes });
        assert.equal(r.ok, true, r.reason);
        assert.equal(r.signsArtifact, true);
        assert.equal(r.signer?.subjectAlternativeName, WORKFLOW);
        assert.equal(r.signer?.issuer, GITHUB_ISSUER);
      }
      const d = run({ version, rekor, content: { statement } });
      assert.equal(d.ok, true, d.reason);
      assert.equal(d.statement?.subject[0]?.digest.sha256, digests.sha256);
    });
  }
}

test('a TSA timestamp alongside a Rekor v1 entry verifies; one from an untrusted TSA does not', () => {
  assert.equal(run({ tsa: true }, { options: { timestampThreshold: 2 } }).ok, true);
  const foreign = new SigstoreTestbed();
  const b = tb.bundle({ version: '0.3', content: { artifact }, signer: { leaf }, tsa: true });
  b.verificationMaterial.timestampVerificationData.rfc3161Timestamps = [{ signedTimestamp: foreign.timestamp(Buffer.from(b.messageSignature.signature, 'base64'), T0).toString('base64') }];
  const r = verifyBundle(parseBundle(b), { trustedRoot: root, identities: [me], keys: [], artifact: { digests } });
  assert.equal(r.ok, false);
  assert.match(r.reason, /TIMESTAMP_ERROR/);
});

test('sha384 and sha512 message digests are checked against our digests of the artifact', () => {
  for (const hash of ['sha384', 'sha512'] as const) {
    assert.equal(run({ content: { artifact, hash } }).ok, true, hash);
    const r = run({ content: { artifact, hash } }, { digests: { sha256: digests.sha256 } });
    assert.equal(r.code, 'SIGSTORE_DIGEST_ALGORITHM');
    assert.match(r.reason, new RegExp(`signs the artifact's ${hash} digest, but the artifact is known only by sha256`));
  }
});

test('subject mismatch: a message signature over another artifact names expected and found', () => {
  const other = Buffer.from('something else');
  const r = run({ content: { artifact: other } });
  assert.equal(r.ok, false);
  assert.equal(r.code, 'SIGSTORE_ARTIFACT_MISMATCH');
  assert.match(r.reason, new RegExp(`expected the bundle to sign sha256:${digests.sha256}, found sha256:${hashBytes(other).sha256}`));
});

test('expired certificate: a signature outside the certificate validity fails', () => {
  const old = tb.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER }, { notBefore: new Date(T0.getTime() - 2 * 3600_000) });
  for (const rekor of ['v1', 'v2'] as const) {
    const r = run({ signer: { leaf: old }, rekor });
    assert.equal(r.ok, false);
    assert.match(r.reason, /CERTIFICATE_ERROR/);
  }
});

test('wrong identity: another SAN or another issuer fails and names both', () => {
  const r = run({}, { identities: [{ issuer: GITHUB_ISSUER, subject: 'https://github.com/acme/widget/.github/workflows/other.yml@refs/heads/main' }] });
  assert.equal(r.code, 'SIGSTORE_IDENTITY_MISMATCH');
  assert.match(r.reason, /expected a certificate for "https:\/\/github.com\/acme\/widget\/.github\/workflows\/other.yml@refs\/heads\/main" issued by .*found SAN "https:\/\/github.com\/acme\/widget\/.github\/workflows\/release.yml@refs\/heads\/main"/);
  const iss = run({}, { identities: [{ issuer: 'https://accounts.google.com', subject: WORKFLOW }] });
  assert.equal(iss.code, 'SIGSTORE_IDENTITY_MISMATCH');
  // Email identities work the same way.
  const mail = tb.issueLeaf({ san: 'dev@example.com', issuer: 'https://accounts.google.com' });
  assert.equal(run({ signer: { leaf: mail } }, { identities: [{ issuer: 'https://accounts.google.com', subject: 'dev@example.com' }] }).ok, true);
});

test('unanchored-SAN bypass: @sigstore/verify alone accepts a SAN with extra prefix/suffix; we do not', () => {
  const wanted = 'https://github.com/foo/bar/.github/workflows/x.yml@refs/heads/main';
  for (const evilSan of [`${wanted}-evil`, `https://evil.example/${wanted}`, 'https://github.com/foo/bar/.github/workflows/xxyml@refs/heads/main']) {
    const evil = tb.issueLeaf({ san: evilSan, issuer: GITHUB_ISSUER });
    const json = tb.bundle({ version: '0.3', content: { artifact }, signer: { leaf: evil } });
    // The library by itself, given the expected SAN as its policy string: the bypass is real.
    const lib = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(tb.trustedRoot()))).verify(toSignedEntity(bundleFromJSON(json), artifact), { subjectAlternativeName: wanted, extensions: { issuer: GITHUB_ISSUER } });
    assert.equal(lib.identity?.subjectAlternativeName, evilSan, 'the library matched the SAN as an unanchored regex');
    // Ours: exact means exact.
    const r = verifyBundle(parseBundle(json), { trustedRoot: root, identities: [{ issuer: GITHUB_ISSUER, subject: wanted }], keys: [], artifact: { digests } });
    assert.equal(r.ok, false, evilSan);
    assert.equal(r.code, 'SIGSTORE_IDENTITY_MISMATCH');
    // And patterns are anchored at both ends.
    const p = verifyBundle(parseBundle(json), { trustedRoot: root, identities: [{ issuer: GITHUB_ISSUER, subjectPattern: 'https://github\\.com/foo/bar/\\.github/workflows/x\\.yml@refs/heads/.*' }], keys: [], artifact: { digests } });
    assert.equal(p.ok, evilSan.endsWith('-evil'), `pattern vs ${evilSan}`);
  }
  const good = tb.issueLeaf({ san: wanted, issuer: GITHUB_ISSUER });
  const ok = run({ signer: { leaf: good } }, { identities: [{ issuer: GITHUB_ISSUER, subjectPattern: 'https://github\\.com/foo/bar/\\.github/workflows/x\\.yml@refs/heads/main' }] });
  assert.equal(ok.ok, true, ok.reason);
});

test('key mode: a key-signed bundle verifies with the key; certificate bundles are refused', () => {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const vk = makeVerificationKey('release', k.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const signer = { privateKey: k.privateKey, publicKey: k.publicKey, hint: 'release' };
  for (const content of [{ artifact }, { statement }]) {
    const r = run({ signer, content }, { identities: [], keys: [vk] });
    assert.equal(r.ok, true, r.reason);
    assert.equal(r.signer?.keyid, 'release');
  }
  // The hint is only a hint: a bundle naming our key but signed by another fails.
  const mallory = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const forged = run({ signer: { ...mallory, hint: 'release' } }, { identities: [], keys: [vk] });
  assert.equal(forged.ok, false);
  // A certificate bundle in key mode is refused before anything else.
  const cert = run({}, { identities: [], keys: [vk] });
  assert.equal(cert.ok, false);
  assert.equal(cert.code, 'SIGSTORE_KEY_MODE_CERTIFICATE');
  // And a key bundle without trusted keys.
  assert.equal(run({ signer, content: { artifact } }, { identities: [me], keys: [] }).code, 'SIGSTORE_NO_KEYS');
});

test('tampering anywhere in the chain fails', () => {
  const tamper = (mutate: (b: Record<string, any>) => void, o: Partial<BundleOptions> = {}) => {
    const b = tb.bundle({ version: '0.3', content: { artifact }, signer: { leaf }, ...o });
    mutate(b);
    return verifyBundle(parseBundle(b), { trustedRoot: root, identities: [me], keys: [], artifact: { digests } });
  };
  const flip = (s: string) => {
    const buf = Buffer.from(s, 'base64');
    buf[buf.length - 5]! ^= 1;
    return buf.toString('base64');
  };
  assert.match(tamper((b) => (b.messageSignature.signature = flip(b.messageSignature.signature))).reason, /TLOG_BODY_ERROR|SIGNATURE_ERROR/);
  assert.match(tamper((b) => (b.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = flip(b.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp))).reason, /TLOG_INCLUSION_PROMISE_ERROR/);
  assert.match(tamper((b) => (b.verificationMaterial.tlogEntries[0].inclusionProof.hashes[1] = flip(b.verificationMaterial.tlogEntries[0].inclusionProof.hashes[1]))).reason, /TLOG_INCLUSION_PROOF_ERROR/);
  assert.match(tamper((b) => (b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope.replace('\n23\n', '\n24\n'))).reason, /TLOG_INCLUSION_PROOF_ERROR/);
  assert.match(tamper((b) => (b.verificationMaterial.tlogEntries[0].integratedTime = String(Number(b.verificationMaterial.tlogEntries[0].integratedTime) + 1))).reason, /TLOG_INCLUSION_PROMISE_ERROR/);
  // A DSSE envelope whose payload was swapped after signing.
  assert.equal(tamper(() => undefined, { content: { statement }, swapPayload: Buffer.from(JSON.stringify({ ...statement, predicateType: 'evil' })) }).ok, false);
  // A certificate from another CA.
  const foreign = new SigstoreTestbed().issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER });
  assert.match(tamper(() => undefined, { signer: { leaf: foreign } }).reason, /CERTIFICATE_ERROR/);
});

test('a certificate without an SCT fails unless the policy sets ctlogThreshold 0', () => {
  const bare = tb.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER }, { sct: false });
  const r = run({ signer: { leaf: bare } });
  assert.equal(r.ok, false);
  assert.match(r.reason, /expected 1 SCTs, got 0/);
  assert.equal(run({ signer: { leaf: bare } }, { options: { ctlogThreshold: 0 } }).ok, true);
});

test('trusted roots: an entry without a validity start is refused (the library alone would accept it)', () => {
  for (const kind of ['tlog', 'ctlog', 'ca', 'tsa'] as const) {
    const json = tb.trustedRoot({ omitStart: kind });
    // @sigstore/verify treats the missing start as the beginning of time.
    const material = toTrustMaterial(TrustedRoot.fromJSON(json));
    const all = [...material.tlogs, ...material.ctlogs, ...material.certificateAuthorities, ...material.timestampAuthorities];
    assert.ok(all.some((e) => e.validFor.start.getTime() === 0), kind);
    assert.throws(
      () => loadTrustedRoot(JSON.stringify(json), 'bad root'),
      (e: unknown) => e instanceof AttestError && e.code === 'SIGSTORE_TRUSTED_ROOT_INVALID' && /validFor\.start is missing/.test(e.message) && e.exitCode === 2,
      kind,
    );
  }
  const code = (v: unknown) => assert.throws(() => loadTrustedRoot(JSON.stringify(v), 'x'), (e: AttestError) => e.code === 'SIGSTORE_TRUSTED_ROOT_INVALID');
  const ctlog0 = (tb.trustedRoot().ctlogs as any[])[0];
  // An explicit null end is an open end (as protobuf JSON writes it), not an error.
  assert.ok(loadTrustedRoot(JSON.stringify({ ...tb.trustedRoot(), ctlogs: [{ ...ctlog0, publicKey: { ...ctlog0.publicKey, validFor: { start: '2025-01-01T00:00:00Z', end: null } } }] }), 'x'));
  code({ ...tb.trustedRoot(), ctlogs: [{ ...ctlog0, publicKey: { ...ctlog0.publicKey, validFor: { start: null } } }] });
  code({ ...tb.trustedRoot(), mediaType: 'application/json' });
  code({ ...tb.trustedRoot(), tlogs: [{ publicKey: { rawBytes: '!!', keyDetails: 'PKIX_ED25519', validFor: { start: '2025-01-01T00:00:00Z' } }, logId: { keyId: 'AA==' } }] });
  code({ ...tb.trustedRoot(), certificateAuthorities: [{ certChain: { certificates: [] }, validFor: { start: '2025-01-01T00:00:00Z' } }] });
  code({ ...tb.trustedRoot(), ctlogs: [{ ...(tb.trustedRoot().ctlogs as any[])[0], publicKey: { ...(tb.trustedRoot().ctlogs as any[])[0].publicKey, validFor: { start: '2026-01-01T00:00:00Z', end: '2025-01-01T00:00:00Z' } } }] });
  assert.throws(() => loadTrustedRoot('[[[[[[', 'x'), (e: AttestError) => e.code === 'ATTEST_JSON_INVALID');
});

test('the public-good trusted root loads offline from @sigstore/tuf', () => {
  const pg = publicGoodTrustedRoot();
  assert.match(pg.source, /tuf-repo-cdn\.sigstore\.dev.*embedded/);
  assert.ok(pg.root.tlogs.some((t) => t.baseUrl === 'https://rekor.sigstore.dev'));
  assert.ok(pg.material.certificateAuthorities.length >= 1);
  assert.ok(pg.material.timestampAuthorities.length >= 1);
  assert.equal(publicGoodTrustedRoot(), pg, 'parsed once');
  // Our local bundle is, rightly, not trusted under the public-good root.
  assert.equal(run({}, { root: pg }).ok, false);
});

test('hostile bundles are refused with typed errors', () => {
  const good = tb.bundle({ version: '0.3', content: { artifact }, signer: { leaf } });
  const code = (v: unknown, c: string) => assert.throws(() => parseBundle(typeof v === 'string' ? v : JSON.stringify(v)), (e: unknown) => e instanceof AttestError && e.code === c, c);
  code({ ...good, messageSignature: { ...good.messageSignature, signature: 'not*base64' } }, 'ATTEST_BASE64_INVALID');
  code({ ...good, verificationMaterial: { ...good.verificationMaterial, certificate: { rawBytes: 'a b' } } }, 'ATTEST_BASE64_INVALID');
  code({ ...good, mediaType: 'application/json' }, 'SIGSTORE_BUNDLE_INVALID');
  code({ mediaType: good.mediaType }, 'SIGSTORE_BUNDLE_INVALID');
  code({ ...good, verificationMaterial: undefined }, 'SIGSTORE_BUNDLE_INVALID');
  code('{"mediaType":' + '['.repeat(5000), 'ATTEST_JSON_TOO_DEEP');
  code(' '.repeat(17 * 1024 * 1024), 'ATTEST_JSON_TOO_LARGE');
  code('[]', 'SIGSTORE_BUNDLE_INVALID');
  // v0.1 bundles need inclusion promises, v0.2+ need inclusion proofs.
  const v01 = tb.bundle({ version: '0.1', content: { artifact }, signer: { leaf } });
  delete v01.verificationMaterial.tlogEntries[0].inclusionPromise;
  code(v01, 'SIGSTORE_BUNDLE_INVALID');
  // A DSSE bundle whose payload is not a statement.
  const r = verifyBundle(parseBundle(tb.bundle({ version: '0.3', content: { statement: { hello: 'world' } }, signer: { leaf } })), { trustedRoot: root, identities: [me], keys: [], artifact: { digests } });
  assert.equal(r.ok, false);
  assert.equal(r.code, 'INTOTO_STATEMENT_TYPE');
});

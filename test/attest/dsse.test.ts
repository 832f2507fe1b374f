import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, sign } from 'node:crypto';
import { AttestError, envelopeToJSON, makeVerificationKey, pae, parseEnvelope, signEnvelope, softwareSigner, verifyEnvelope, type SignatureScheme } from '../../attest/index.ts';
import { makeKey } from '../fixtures/attest/keys.ts';

const TYPE = 'application/vnd.in-toto+json';

test('PAE matches the DSSE v1 specification example', () => {
  assert.equal(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString(), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  // Lengths are byte lengths, not character counts.
  assert.equal(pae('t', Buffer.from('é')).toString('hex'), Buffer.concat([Buffer.from('DSSEv1 1 t 2 '), Buffer.from('é')]).toString('hex'));
});

for (const scheme of ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ed25519', 'rsassa-pss-sha256', 'rsa-pkcs1v15-sha256'] as SignatureScheme[]) {
  test(`sign and verify with ${scheme}; a changed payload fails`, async () => {
    const k = makeKey(scheme);
    const env = await signEnvelope(TYPE, Buffer.from('{"a":1}'), [softwareSigner(k.privateKey, { keyid: 'k1', scheme })]);
    const parsed = parseEnvelope(JSON.stringify(envelopeToJSON(env)));
    const vk = makeVerificationKey('k1', k.pem, scheme);
    assert.equal(verifyEnvelope(parsed, [vk]).verified, true);
    const tampered = { ...parsed, payload: Buffer.from('{"a":2}') };
    assert.equal(verifyEnvelope(tampered, [vk]).verified, false);
    const otherType = { ...parsed, payloadType: 'text/plain' };
    assert.equal(verifyEnvelope(otherType, [vk]).verified, false, 'the payload type is signed too');
  });
}

test('ECDSA signatures in IEEE P1363 form verify as well as DER', async () => {
  const k = makeKey('ecdsa-sha2-nistp256');
  const payload = Buffer.from('x');
  const sig = sign('sha256', pae(TYPE, payload), { key: k.privateKey, dsaEncoding: 'ieee-p1363' });
  assert.equal(sig.length, 64);
  const env = { payloadType: TYPE, payload, signatures: [{ sig }] };
  assert.equal(verifyEnvelope(env, [makeVerificationKey('k', k.pem)]).verified, true);
});

test('RSA-PSS and PKCS#1 v1.5 are not interchangeable', async () => {
  const k = makeKey('rsa-pkcs1v15-sha256');
  const payload = Buffer.from('x');
  const pss = sign('sha256', pae(TYPE, payload), { key: k.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  const env = { payloadType: TYPE, payload, signatures: [{ sig: pss }] };
  assert.equal(verifyEnvelope(env, [makeVerificationKey('k', k.pem, 'rsassa-pss-sha256')]).verified, true);
  assert.equal(verifyEnvelope(env, [makeVerificationKey('k', k.pem, 'rsa-pkcs1v15-sha256')]).verified, false);
});

test('private keys and non-keys are refused where a public key is expected', () => {
  const k = makeKey('ecdsa-sha2-nistp256');
  const priv = k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.throws(() => makeVerificationKey('k', priv), (e: AttestError) => e.code === 'KEY_IS_PRIVATE' && e.exitCode === 2);
  assert.throws(() => makeVerificationKey('k', 'hello'), (e: AttestError) => e.code === 'KEY_INVALID');
  const truncated = makeKey('rsa-pkcs1v15-sha256').pem.split('\n').filter((_, n) => n !== 2).join('\n');
  assert.throws(() => makeVerificationKey('k', truncated), (e: AttestError) => e.code === 'KEY_INVALID');
});

test('a scheme that does not fit the key is refused', () => {
  const k = makeKey('ed25519');
  assert.throws(() => makeVerificationKey('k', k.pem, 'ecdsa-sha2-nistp256'), (e: AttestError) => e.code === 'KEY_SCHEME_MISMATCH');
  const p = makeKey('ecdsa-sha2-nistp256');
  assert.throws(() => makeVerificationKey('k', p.pem, 'ecdsa-sha2-nistp384'), (e: AttestError) => e.code === 'KEY_SCHEME_MISMATCH');
});

test('threshold counts distinct keys: the same key twice counts once', async () => {
  const a = makeKey('ecdsa-sha2-nistp256');
  const b = makeKey('ed25519');
  const payload = Buffer.from('{}');
  const sa = softwareSigner(a.privateKey, { keyid: 'a' });
  const sb = softwareSigner(b.privateKey, { keyid: 'b' });
  const va = makeVerificationKey('a', a.pem);
  const vb = makeVerificationKey('b', b.pem);
  // Two signatures by the same key do not make two signers.
  const twiceA = await signEnvelope(TYPE, payload, [sa, { keyid: 'b', sign: sa.sign }]);
  const r1 = verifyEnvelope(twiceA, [va, vb], 2);
  assert.equal(r1.verified, false);
  assert.deepEqual(r1.validKeyids, ['a']);
  // Both keys: verified.
  const both = await signEnvelope(TYPE, payload, [sa, sb]);
  assert.equal(verifyEnvelope(both, [va, vb], 2).verified, true);
  // One key configured under two keyids is one distinct key: threshold 2 cannot be met by construction.
  assert.throws(() => verifyEnvelope(both, [va, makeVerificationKey('a-again', a.pem)], 2), (e: AttestError) => e.code === 'DSSE_THRESHOLD_INVALID');
});

test('keyid hints are hints: a wrong hint still verifies with the right key, a trusted hint on a foreign signature does not', async () => {
  const a = makeKey('ecdsa-sha2-nistp256');
  const mallory = makeKey('ecdsa-sha2-nistp256');
  const payload = Buffer.from('{}');
  const wrongHint = await signEnvelope(TYPE, payload, [softwareSigner(a.privateKey, { keyid: 'no-such-key' })]);
  assert.equal(verifyEnvelope(wrongHint, [makeVerificationKey('a', a.pem)]).verified, true);
  const forged = await signEnvelope(TYPE, payload, [softwareSigner(mallory.privateKey, { keyid: 'a' })]);
  const r = verifyEnvelope(forged, [makeVerificationKey('a', a.pem)]);
  assert.equal(r.verified, false);
  assert.deepEqual(r.unverified, [{ index: 0, keyid: 'a' }]);
});

test('hostile envelopes are refused with typed errors', () => {
  const code = (input: unknown, expected: string) =>
    assert.throws(() => parseEnvelope(typeof input === 'string' ? input : JSON.stringify(input)), (e: unknown) => e instanceof AttestError && e.code === expected, expected);
  code('{', 'ATTEST_JSON_INVALID');
  code('[]', 'DSSE_MALFORMED');
  code({ payloadType: TYPE, payload: 'e30=', signatures: [] }, 'DSSE_MALFORMED');
  code({ payloadType: TYPE, payload: 'not base64!', signatures: [{ sig: 'AAAA' }] }, 'ATTEST_BASE64_INVALID');
  code({ payloadType: TYPE, payload: 'e30=', signatures: [{ sig: 'A' }] }, 'ATTEST_BASE64_INVALID');
  code({ payloadType: TYPE, payload: 'e30=', signatures: [{ sig: 'AA AA' }] }, 'ATTEST_BASE64_INVALID');
  code({ payloadType: TYPE, payload: 'e30=', signatures: [{ sig: 12 }] }, 'ATTEST_BASE64_INVALID');
  code({ payloadType: 7, payload: 'e30=', signatures: [{ sig: 'AAAA' }] }, 'DSSE_MALFORMED');
  code({ payloadType: TYPE, payload: 'e30=', signatures: Array.from({ length: 33 }, () => ({ sig: 'AAAA' })) }, 'DSSE_MALFORMED');
  code('['.repeat(100_000) + ']'.repeat(100_000), 'ATTEST_JSON_TOO_DEEP');
  assert.throws(() => parseEnvelope(Buffer.alloc(40 * 1024 * 1024, 0x20)), (e: AttestError) => e.code === 'ATTEST_JSON_TOO_LARGE');
  assert.throws(() => parseEnvelope(Buffer.from([0x7b, 0xff, 0x7d])), (e: AttestError) => e.code === 'ATTEST_UTF8_INVALID');
});

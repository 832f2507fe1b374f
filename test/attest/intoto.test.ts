import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttestError, hashFile, matchSubject, parseDigestRef, parseStatement, statementFromEnvelope, subjectAlgorithms } from '../../attest/index.ts';

const h = (alg: string, s: string) => createHash(alg).update(s).digest('hex');
const ART = 'artifact bytes';
const digests = { sha256: h('sha256', ART), sha512: h('sha512', ART) };
const st = (subject: unknown, extra: Record<string, unknown> = {}) => ({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://example.com/p', subject, predicate: {}, ...extra });

test('every subject is considered, not only the first', () => {
  const s = parseStatement(JSON.stringify(st([{ name: 'other', digest: { sha256: h('sha256', 'x') } }, { name: 'mine', digest: { sha256: digests.sha256 } }])));
  const m = matchSubject(s, digests);
  assert.equal(m.matched, true);
  assert.equal(m.name, 'mine');
});

test('a sha512-only subject matches via sha512 and only via sha512', () => {
  const s = parseStatement(JSON.stringify(st([{ name: 'a', digest: { sha512: digests.sha512 } }])));
  assert.deepEqual(subjectAlgorithms(s), new Set(['sha512']));
  assert.equal(matchSubject(s, digests).matched, true);
  assert.deepEqual(matchSubject(s, digests).algorithms, ['sha512']);
  // Known only by sha256 (digest-only verification): cannot match, and says why.
  const m = matchSubject(s, { sha256: digests.sha256 });
  assert.equal(m.matched, false);
  assert.match(m.reason, /subjects offer sha512, the artifact is known by sha256/);
  // A wrong sha512 fails.
  const wrong = parseStatement(JSON.stringify(st([{ name: 'a', digest: { sha512: h('sha512', 'other') } }])));
  assert.equal(matchSubject(wrong, digests).matched, false);
});

test('a subject agreeing on sha256 but disagreeing on sha512 is a mismatch', () => {
  const s = parseStatement(JSON.stringify(st([{ name: 'a', digest: { sha256: digests.sha256, sha512: h('sha512', 'evil') } }])));
  const m = matchSubject(s, digests);
  assert.equal(m.matched, false);
  assert.match(m.reason, /expected a subject with sha256:/);
});

test('digest case is normalised; unknown algorithms are kept but never match', () => {
  const s = parseStatement(JSON.stringify(st([{ digest: { sha256: digests.sha256.toUpperCase(), gitCommit: 'abc' } }])));
  assert.equal(matchSubject(s, digests).matched, true);
  const only = parseStatement(JSON.stringify(st([{ digest: { gitCommit: 'abc' } }])));
  assert.equal(matchSubject(only, digests).matched, false);
});

test('v0.1 statements are read', () => {
  const s = parseStatement(JSON.stringify(st([{ name: 'a', digest: { sha256: digests.sha256 } }], { _type: 'https://in-toto.io/Statement/v0.1' })));
  assert.equal(matchSubject(s, digests).matched, true);
});

test('malformed statements are refused with stable codes', () => {
  const code = (v: unknown, c: string) => assert.throws(() => parseStatement(JSON.stringify(v)), (e: unknown) => e instanceof AttestError && e.code === c, c);
  code(st([{ digest: { sha256: digests.sha256 } }], { _type: 'https://in-toto.io/Statement/v2' }), 'INTOTO_STATEMENT_TYPE');
  code(st([]), 'INTOTO_MALFORMED');
  code(st([{ name: 'a' }]), 'INTOTO_MALFORMED');
  code(st([{ digest: { sha256: 'zz' } }]), 'INTOTO_MALFORMED');
  code(st([{ digest: { sha256: 5 } }]), 'INTOTO_MALFORMED');
  code(st([{ digest: { sha256: digests.sha256 } }], { predicateType: undefined }), 'INTOTO_MALFORMED');
  code(st([{ digest: { sha256: digests.sha256 } }], { predicate: [1] }), 'INTOTO_MALFORMED');
  code('not an object', 'INTOTO_MALFORMED');
});

test('a DSSE envelope with another payload type is not read as a statement', () => {
  const env = { payloadType: 'application/json', payload: Buffer.from(JSON.stringify(st([{ digest: digests }]))), signatures: [] };
  assert.throws(() => statementFromEnvelope(env), (e: AttestError) => e.code === 'DSSE_PAYLOAD_TYPE');
});

test('digest references: sha256:HEX and friends, nothing else', () => {
  assert.deepEqual(parseDigestRef(`sha256:${digests.sha256.toUpperCase()}`), { alg: 'sha256', hex: digests.sha256 });
  assert.equal(parseDigestRef(`sha256:${digests.sha256}0`), undefined);
  assert.equal(parseDigestRef(`md5:${'0'.repeat(32)}`), undefined);
  assert.equal(parseDigestRef('sha256:'), undefined);
  assert.equal(parseDigestRef('./sha256:abc'), undefined);
});

test('hashFile computes every requested algorithm in one pass, for small and multi-chunk files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-hash-'));
  try {
    for (const size of [0, 1, 4 * 1024 * 1024, 9 * 1024 * 1024 + 7]) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4093) data[i] = i & 0xff;
      const p = join(dir, `f${size}`);
      writeFileSync(p, data);
      const r = await hashFile(p, ['sha512']);
      assert.equal(r.size, size);
      assert.equal(r.digests.sha256, createHash('sha256').update(data).digest('hex'));
      assert.equal(r.digests.sha512, createHash('sha512').update(data).digest('hex'));
      assert.equal(r.digests.sha384, undefined, 'algorithms nobody asked for are not computed');
      const kept = await hashFile(p, [], { keepBytesUpTo: 1024 });
      assert.equal(kept.bytes !== undefined, size <= 1024);
    }
    await assert.rejects(hashFile(join(dir, 'missing')), (e: AttestError) => e.code === 'ARTIFACT_NOT_FOUND' && e.exitCode === 2);
    await assert.rejects(hashFile(dir), (e: AttestError) => e.code === 'ARTIFACT_NOT_A_FILE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// EAR: tiers and worst-of status, the draft's examples, JWT and CWT signing and verification (the
// JWT also checked with node:crypto alone), and refusal of tampered or hostile tokens.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cose, ear } from '../../attest/index.ts';

const { buildEAR, signEARJWT, verifyEARJWT, decodeEARJWT, signEARCWT, verifyEARCWT, decodeEARCWT, appraisalFromReasons, tierOf, worstTier } = ear;
const VECTORS = join(import.meta.dirname, 'vectors', 'ear');
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const signer = cose.softwareCoseSigner(p256.privateKey);
const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function refuses(fn: () => unknown, code: string, what = ''): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ear.EarError || e instanceof cose.CoseError || e instanceof cose.CborError, `${what}: expected a typed error, got ${String(e)}`);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    return true;
  });
}

const reasons: ear.ClaimReason[] = [
  { claim: 'nonce', status: 'affirming', category: 'instance-identity', message: 'the nonce is the challenge' },
  { claim: 'pcrs.sha256.7', status: 'affirming', category: 'executables', value: 3, message: 'secure boot state as expected' },
  { claim: 'software[tools/ripgrep]', status: 'warning', category: 'executables', value: 33, expected: 'sha256:ab…', actual: 'sha256:cd…', message: 'not in the policy' },
  { claim: 'ledger', status: 'affirming', category: 'sourced-data', message: 'ledger replays to the NV index' },
];

function sampleEAR(status?: ear.TrustTier): ear.EAR {
  const a = appraisalFromReasons(reasons, { policyId: 'tollgate-policy@v3' });
  return buildEAR({
    iat: 1_767_225_600,
    verifierId: { developer: 'https://tollgate.example', build: 'tollgate 0.1.0' },
    nonce: new Uint8Array(32).fill(9),
    rawEvidence: new Uint8Array([0xd2, 0x84]),
    submods: { tollgate: status ? { ...a, status } : a },
  });
}

describe('trust tiers and status derivation', () => {
  it('AR4SI tiers of claim values', () => {
    const table: Array<[number, ear.TrustTier]> = [[0, 'none'], [1, 'none'], [-1, 'none'], [2, 'affirming'], [31, 'affirming'], [-2, 'affirming'], [-32, 'affirming'],
      [32, 'warning'], [95, 'warning'], [-33, 'warning'], [-96, 'warning'], [96, 'contraindicated'], [127, 'contraindicated'], [-97, 'contraindicated'], [-128, 'contraindicated']];
    for (const [v, t] of table) assert.equal(tierOf(v), t, String(v));
    for (const v of [128, -129, 1.5]) assert.throws(() => tierOf(v), { code: 'EAR_INPUT_INVALID' });
  });

  it('worst-of: contraindicated > warning > affirming > none', () => {
    assert.equal(worstTier([]), 'none');
    assert.equal(worstTier(['affirming', 'none']), 'affirming');
    assert.equal(worstTier(['affirming', 'warning', 'affirming']), 'warning');
    assert.equal(worstTier(['warning', 'contraindicated', 'none']), 'contraindicated');
  });

  it('an appraisal from per-claim reasons: worst value per category, worst status overall', () => {
    const a = appraisalFromReasons(reasons);
    assert.equal(a.status, 'warning');
    assert.deepEqual(a.trustVector, { 'instance-identity': 2, executables: 33, 'sourced-data': 2 });
    assert.equal(appraisalFromReasons([...reasons, { claim: 'quote', status: 'contraindicated', category: 'hardware', value: 97, message: 'unknown AK' }]).status, 'contraindicated');
    assert.equal(appraisalFromReasons([]).status, 'none');
    // A reason without a category still counts for the status.
    assert.equal(appraisalFromReasons([{ claim: 'x', status: 'warning', message: 'm' }]).status, 'warning');
    const e = sampleEAR();
    assert.equal(ear.earStatus(e), 'warning');
  });

  it('buildEAR refuses what a verifier would refuse', () => {
    const ok = sampleEAR();
    const bad: Array<[string, () => unknown]> = [
      ['status better than the vector', () => sampleEAR('affirming')],
      ['no submods', () => buildEAR({ verifierId: ok.verifierId, submods: {} })],
      ['empty vector', () => buildEAR({ verifierId: ok.verifierId, submods: { a: { status: 'none', trustVector: {} } } })],
      ['value out of range', () => buildEAR({ verifierId: ok.verifierId, submods: { a: { status: 'contraindicated', trustVector: { hardware: 200 } } } })],
      ['unknown category', () => buildEAR({ verifierId: ok.verifierId, submods: { a: { status: 'none', trustVector: { gpu: 2 } as ear.TrustVector } } })],
      ['unknown tier', () => buildEAR({ verifierId: ok.verifierId, submods: { a: { status: 'fine' as ear.TrustTier } } })],
      ['short nonce', () => buildEAR({ verifierId: ok.verifierId, nonce: new Uint8Array(7), submods: ok.submods })],
      ['empty developer', () => buildEAR({ verifierId: { developer: '', build: 'b' }, submods: ok.submods })],
      ['float iat', () => buildEAR({ verifierId: ok.verifierId, iat: 1.5, submods: ok.submods })],
    ];
    for (const [what, fn] of bad) assert.throws(fn, (e: unknown) => e instanceof ear.EarError && e.code === 'EAR_INPUT_INVALID' && e.errorClass === 'usage', what);
  });
});

describe('the draft-ietf-rats-ear-02 examples', () => {
  it('ear-json-1 reads, and its CBOR form is the map of ear-cbor-1.diag', () => {
    const j = JSON.parse(readFileSync(join(VECTORS, 'ear-json-1.json'), 'utf8'));
    const e = ear.earFromJSON(j);
    assert.equal(e.submods.PSA!.status, 'contraindicated');
    assert.deepEqual(e.submods.PSA!.trustVector, { 'instance-identity': 2, executables: 96, hardware: 2 });
    assert.deepEqual(ear.earToJSON(e), j, 'the JSON form round-trips to the example exactly');
    const m = ear.earToCbor(e);
    // ear-cbor-1.diag, with the JSON example's raw evidence (the two examples carry different bytes).
    const expected: cose.CborMap = new Map<cose.CborKey, cose.CborValue>([
      [265, 'tag:github.com,2023:veraison/ear'],
      [6, 1666529184],
      [1004, new Map<cose.CborKey, cose.CborValue>([[0, 'https://veraison-project.org'], [1, 'vts 0.0.1']])],
      [1002, new Uint8Array(Buffer.from('NzQ3MjY5NzM2NTYzNzQK', 'base64url'))],
      [266, new Map([['PSA', new Map<cose.CborKey, cose.CborValue>([[1000, 96], [1001, new Map([[0, 2], [2, 96], [4, 2]])], [1003, 'https://veraison.example/policy/1/60a0068d']])]])],
    ]);
    assert.deepEqual(cose.encodeCBOR(m), cose.encodeCBOR(expected));
  });

  it('ear-json-2 (two submodules) reads and round-trips', () => {
    const j = JSON.parse(readFileSync(join(VECTORS, 'ear-json-2.json'), 'utf8'));
    const e = ear.earFromJSON(j);
    assert.deepEqual(Object.keys(e.submods), ['CCA Platform', 'CCA Realm']);
    assert.equal(ear.earStatus(e), 'affirming');
    assert.deepEqual(ear.earToJSON(e), j);
  });
});

describe('EAR as a JWT', () => {
  it('signs; node:crypto alone verifies the ES256 signature; the claims are the draft JSON form', async () => {
    const e = sampleEAR();
    const token = await signEARJWT(e, signer, { kid: 'verifier-1' });
    // Independent check: split the JWS and verify with node:crypto, no tollgate code.
    const [h, p, s] = token.split('.') as [string, string, string];
    assert.ok(nodeVerify('sha256', Buffer.from(`${h}.${p}`), { key: p256.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')));
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'ES256', typ: 'JWT', kid: 'verifier-1' });
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    assert.equal(claims.eat_profile, 'tag:github.com,2023:veraison/ear');
    assert.equal(claims.iat, 1_767_225_600);
    assert.deepEqual(claims['ear.verifier-id'], { developer: 'https://tollgate.example', build: 'tollgate 0.1.0' });
    assert.equal(claims.eat_nonce, Buffer.alloc(32, 9).toString('base64url'));
    assert.equal(claims.submods.tollgate['ear.status'], 'warning');
    assert.deepEqual(claims.submods.tollgate['ear.trustworthiness-vector'], { 'instance-identity': 2, executables: 33, 'sourced-data': 2 });
    assert.equal(claims.submods.tollgate['ear.appraisal-policy-id'], 'tollgate-policy@v3');
    assert.deepEqual(claims.submods.tollgate['ear.tollgate.reasons'][2], reasons[2]);
    // And our own verification gives back the EAR.
    assert.deepEqual(verifyEARJWT(token, p256.publicKey), e);
    assert.deepEqual(verifyEARJWT(token, p256.publicKey.export({ format: 'jwk' })), e);
    assert.deepEqual(decodeEARJWT(token).ear, e);
  });

  it('ES384 works; a key of the wrong curve is a usage error', async () => {
    const token = await signEARJWT(sampleEAR(), cose.softwareCoseSigner(p384.privateKey));
    assert.equal(decodeEARJWT(token).header.alg, 'ES384');
    verifyEARJWT(token, p384.publicKey);
    assert.throws(() => verifyEARJWT(token, p256.publicKey), { code: 'EAR_KEY_MISMATCH', errorClass: 'usage' });
  });

  it('refuses tampered and hostile tokens', async () => {
    const token = await signEARJWT(sampleEAR(), signer);
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const upgraded = b64u({ ...claims, submods: { tollgate: { ...claims.submods.tollgate, 'ear.status': 'contraindicated' } } });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cases: Array<[string, string, string]> = [
      ['payload changed', `${h}.${upgraded}.${s}`, 'EAR_SIGNATURE_INVALID'],
      ['signature truncated', `${h}.${p}.${Buffer.from(s, 'base64url').subarray(0, 60).toString('base64url')}`, 'EAR_SIGNATURE_INVALID'],
      // 64 bytes take 86 characters; the last one has 2 unused bits, which must be zero.
      ['signature with non-canonical final bits', `${h}.${p}.${s.slice(0, -1)}${B64U[B64U.indexOf(s.at(-1)!) | 1]}`, 'EAR_MALFORMED'],
      ['signature of another message', `${h}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`, 'EAR_SIGNATURE_INVALID'],
      ['alg none', `${b64u({ alg: 'none' })}.${p}.`, 'EAR_ALG_UNSUPPORTED'],
      ['alg HS256', `${b64u({ alg: 'HS256' })}.${p}.${s}`, 'EAR_ALG_UNSUPPORTED'],
      ['alg missing', `${b64u({ typ: 'JWT' })}.${p}.${s}`, 'EAR_ALG_UNSUPPORTED'],
      ['crit', `${b64u({ alg: 'ES256', crit: ['exp'] })}.${p}.${s}`, 'EAR_MALFORMED'],
      ['two parts', `${h}.${p}`, 'EAR_MALFORMED'],
      ['four parts', `${token}.x`, 'EAR_MALFORMED'],
      ['padded base64', `${h}.${p}.${s}==`, 'EAR_MALFORMED'],
      ['standard base64 alphabet', `${h}.${p.replace(/-/g, '+').replace(/_/g, '/')}x.${s}`, 'EAR_MALFORMED'],
      ['header not JSON', `${b64u('{alg')}.${p}.${s}`, 'EAR_MALFORMED'],
      ['header an array', `${b64u(['ES256'])}.${p}.${s}`, 'EAR_MALFORMED'],
      ['payload deep', `${h}.${b64u('['.repeat(100) + ']'.repeat(100))}.${s}`, 'EAR_MALFORMED'],
      ['another profile', `${h}.${b64u({ ...claims, eat_profile: 'tag:github.com,2026:tollgate/eat#1' })}.${s}`, 'EAR_PROFILE_MISMATCH'],
      ['status as a number', `${h}.${b64u({ ...claims, submods: { t: { 'ear.status': 2 } } })}.${s}`, 'EAR_CLAIM_INVALID'],
      ['nonce not base64url', `${h}.${b64u({ ...claims, eat_nonce: 'a+b/' })}.${s}`, 'EAR_CLAIM_INVALID'],
    ];
    for (const [what, t, code] of cases) refuses(() => verifyEARJWT(t, p256.publicKey), code, what);
    refuses(() => verifyEARJWT(token, other.publicKey), 'EAR_SIGNATURE_INVALID', 'another key');
    refuses(() => verifyEARJWT(42 as unknown as string, p256.publicKey), 'EAR_MALFORMED');
  });
});

describe('EAR as a CWT', () => {
  it('round trip ES256/ES384; the claims map is the CBOR form', async () => {
    const e = sampleEAR();
    for (const k of [p256, p384]) {
      const bytes = await signEARCWT(e, cose.softwareCoseSigner(k.privateKey));
      assert.deepEqual(verifyEARCWT(bytes, k.publicKey), e);
      const { sign1 } = decodeEARCWT(bytes);
      assert.equal(sign1.protectedHeader.get(16), 'application/eat+cwt');
      const m = cose.decodeCBOR(sign1.payload) as cose.CborMap;
      assert.equal(m.get(265), ear.EAR_PROFILE);
      const sub = (m.get(266) as cose.CborMap).get('tollgate') as cose.CborMap;
      assert.equal(sub.get(1000), 32);
      assert.deepEqual(sub.get(1001), new Map([[0, 2], [2, 33], [7, 2]]));
      const r = (sub.get(-1953459217) as cose.CborMap[])[2]!;
      assert.deepEqual([...r.keys()].sort(), [0, 1, 2, 3, 4, 5, 6]);
      assert.equal(r.get(1), 32);
    }
  });

  it('JSON and CBOR forms carry the same EAR', () => {
    const e = sampleEAR();
    assert.deepEqual(ear.earFromJSON(JSON.parse(JSON.stringify(ear.earToJSON(e)))), e);
    assert.deepEqual(ear.earFromCbor(cose.decodeCBOR(cose.encodeCBOR(ear.earToCbor(e)))), e);
  });

  it('flipped bits (all in the headers and signature, every 7th in the claims) are refused with typed errors', async () => {
    const bytes = await signEARCWT(sampleEAR(), signer);
    const n = bytes.length * 8;
    for (let i = 0; i < n; i += i < 32 * 8 || i >= n - 64 * 8 ? 1 : 7) {
      const t = new Uint8Array(bytes);
      t[i >> 3]! ^= 1 << (i & 7);
      assert.throws(() => verifyEARCWT(t, p256.publicKey), (e: unknown) => e instanceof ear.EarError || e instanceof cose.CoseError || e instanceof cose.CborError, `bit ${i}`);
    }
    refuses(() => verifyEARCWT(bytes, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), 'COSE_SIGNATURE_INVALID');
    const notEar = await cose.signSign1(cose.encodeCBOR(new Map([[265, 'x']])), signer);
    refuses(() => decodeEARCWT(notEar), 'EAR_PROFILE_MISMATCH');
    const notMap = await cose.signSign1(cose.encodeCBOR([1]), signer);
    refuses(() => decodeEARCWT(notMap), 'EAR_MALFORMED');
  });
});

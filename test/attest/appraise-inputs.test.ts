// The verifier's inputs, without a TPM: reference values and saved appraisal state are parsed
// strictly (a typo never switches a requirement off; each refusal names the JSON
// path), and hostile evidence is refused with typed errors or appraised as contraindicated —
// never an untyped exception, never affirmed.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { publicName } from '../../hardware/index.ts';
import { appraise as A, eat } from '../../attest/index.ts';
import { TollgateError as BaseError } from '../../hardware/index.ts';
import { makeEvidence, softwareTpm, type SoftwareTpm } from '../fixtures/attest/evidence.ts';

function refused(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof A.AppraiseError, `expected AppraiseError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.errorClass, 'usage');
    if (message) assert.match(e.message, message);
    return true;
  });
}

const H = (s: string) => createHash('sha256').update(s).digest('hex');

describe('reference values', () => {
  const full = {
    version: 1, policyId: 'p',
    ekRoots: ['Infineon', `sha256:${'AB'.repeat(32)}`],
    pcrs: { 'sha256:7': [H('a')], 'sha1:0': ['00'.repeat(20)] },
    eventLog: { secureBoot: 'required', db: { allow: [H('db')] }, dbx: { mustContain: [`sha256:${H('x')}`] }, bootApplications: { allow: [H('shim')] } },
    ima: { allow: [{ digest: `sha256:${H('f')}`, path: '/usr/bin/f' }, { digest: `sha1:${'11'.repeat(20)}` }], deny: [{ path: '/tmp/x' }], unknown: 'warning' },
    software: { mustInclude: [{ target: 'a.tar', sha256: H('a.tar') }], mustNotInclude: [{ sha256: H('old') }] },
  };

  it('parse into normalised sets (hex lower case, prefixes removed)', () => {
    const r = A.parseReferenceValues(Buffer.from(JSON.stringify(full)));
    assert.deepEqual([...r.ekRoots!.vendors], ['infineon']);
    assert.deepEqual([...r.ekRoots!.fingerprints], ['ab'.repeat(32)]);
    assert.deepEqual(r.pcrs!.get('sha256:7')!.allowed, [H('a')]);
    assert.equal(r.pcrs!.get('sha1:0')!.pcr, 0);
    assert.deepEqual(r.eventLog!.dbx, [H('x')]);
    assert.equal(r.eventLog!.secureBoot, 'required');
    assert.deepEqual(r.ima!.allow!.digests.get(`sha256:${H('f')}`), ['/usr/bin/f']);
    assert.deepEqual(r.ima!.allow!.digests.get(`sha1:${'11'.repeat(20)}`), [undefined]);
    assert.equal(r.ima!.unknown, 'warning');
    assert.equal(A.parseReferenceValues({ version: 1 }).eventLog, undefined);
    assert.equal(A.parseReferenceValues({ version: 1, eventLog: {} }).eventLog!.secureBoot, 'any');
  });

  it('the README\'s example is a valid file', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Evidence and appraisal'));
    const json = /```json\n([\s\S]*?)```/.exec(section)![1]!;
    const r = A.parseReferenceValues(json);
    assert.equal(r.policyId, 'fleet-a/2026-01');
    assert.equal(r.ima!.unknown, 'warning');
  });

  it('refuse unknown keys, wrong sizes and misspellings, naming the JSON path', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...full, version: 2 }, /\$\.version: must be 1/],
      [{ ...full, pcr: {} }, /\$\.pcr: is not a known key/],
      [{ ...full, eventLog: { ...full.eventLog, secureboot: 'required' } }, /\$\.eventLog\.secureboot: is not a known key \(known here: secureBoot, db, dbx, bootApplications\)/],
      [{ ...full, eventLog: { secureBoot: 'yes' } }, /\$\.eventLog\.secureBoot: must be "required" or "any"/],
      [{ ...full, eventLog: { db: { allowed: [] } } }, /\$\.eventLog\.db\.allowed: is not a known key/],
      [{ ...full, eventLog: { db: { allow: [] } } }, /\$\.eventLog\.db\.allow: must hold at least 1 entry/],
      [{ ...full, pcrs: { 'sha256:7': ['00'.repeat(20)] } }, /\$\.pcrs\.sha256:7\[0\]: must be 64 hex digits/],
      [{ ...full, pcrs: { 'sha265:7': [H('a')] } }, /\$\.pcrs\.sha265:7: is not "bank:pcr"/],
      [{ ...full, pcrs: { 'sha256:24': [H('a')] } }, /pcr 0\.\.23/],
      [{ ...full, pcrs: { 'sha256:7': [H('a')], 'sha256:07': [H('a')] } }, /names sha256:7 twice/],
      [{ ...full, pcrs: {} }, /names no PCR/],
      [{ ...full, ima: { allow: [{ path: '/x' }] } }, /\$\.ima\.allow\[0\]\.digest: is missing/],
      [{ ...full, ima: { allow: [{ digest: 'sha256:abc' }] } }, /a sha256 digest is 64 hex digits, not 3/],
      [{ ...full, ima: { allow: [{ digest: `sha257:${H('a')}` }] } }, /alg one of md5, sha1/],
      [{ ...full, ima: { deny: [{}] } }, /\$\.ima\.deny\[0\]: needs a path, a digest or both/],
      [{ ...full, ima: { unknown: 'warning' } }, /\$\.ima: needs allow, deny or both/],
      [{ ...full, software: {} }, /\$\.software: needs mustInclude, mustNotInclude or both/],
      [{ ...full, software: { mustInclude: [{ target: 'a', sha512: 'x' }] } }, /mustInclude\[0\]\.sha512: is not a known key/],
      [{ ...full, ekRoots: [] }, /\$\.ekRoots: must hold at least 1 entry/],
      [{ ...full, ekRoots: ['sha256:1234'] }, /\$\.ekRoots\[0\]: must be 64 hex digits/],
      [[], /\$: must be an object/],
      ['{"version":1,', /not JSON/],
    ];
    for (const [input, message] of cases) refused(() => A.parseReferenceValues(typeof input === 'string' ? input : input), 'APPRAISE_REFERENCE_INVALID', message);
  });
});

/** The keys appraisal needs, straight from a software TPM fixture (no record parsing involved). */
function keysOf(t: SoftwareTpm): A.DeviceKeys {
  return {
    kind: 'device-keys', ueid: Buffer.from(eat.ueidFromEKPublic(t.ekPublicArea)), akPublic: t.akPublic, akName: Buffer.from(publicName(t.akPublic)), akKey: t.ak.publicKey,
    deviceKeyPublic: t.devicePublic, deviceKeyName: Buffer.from(publicName(t.devicePublic)), deviceKeyObject: t.device.publicKey, ekChain: null,
  };
}

describe('saved appraisal state', () => {
  it('round-trips, and refuses anything else', () => {
    const s: A.AppraisalState = { clock: 0xffff_ffff_ffffn, resetCount: 3, restartCount: 0 };
    assert.deepEqual(A.parseAppraisalState(A.serializeAppraisalState(s)), s);
    const good = JSON.parse(A.serializeAppraisalState(s));
    for (const [bad, message] of [
      [{ ...good, clock: 5 }, /clock is not a 64-bit count/],
      [{ ...good, clock: '18446744073709551616' }, /clock is not a 64-bit count/],
      [{ ...good, resetCount: -1 }, /32-bit counts/],
      [{ ...good, format: 'x' }, /not a tollgate-appraisal-state/],
      [{ ...good, extra: true }, /unknown field "extra"/],
      [{ ...good, logs: { pcrState: '{}', covered: [] } }, /logs\.pcrState: The saved PCR state cannot be used/],
      [{ ...good, logs: { pcrState: '{}', covered: [] }, nope: 1 }, /unknown field/],
    ] as Array<[unknown, RegExp]>) {
      refused(() => A.parseAppraisalState(JSON.stringify(bad)), 'APPRAISE_STATE_INVALID', message);
    }
    refused(() => A.parseAppraisalState('not json'), 'APPRAISE_STATE_INVALID', /not JSON/);
  });
});

/** mulberry32, so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

describe('hostile evidence', () => {
  let t: SoftwareTpm;
  let record: A.DeviceKeys;
  const nonce = new Uint8Array(32).fill(0x42);
  let bytes: Uint8Array;
  before(async () => {
    t = softwareTpm();
    record = keysOf(t);
    bytes = (await makeEvidence(t, nonce, { eventLogs: [] })).bytes;
  });

  it('the unmodified evidence is affirmed (so a refusal below is the mutation\'s doing)', () => {
    const r = A.appraise(bytes, { device: record, nonce });
    assert.equal(r.status, 'affirming', A.renderAppraisal(r));
  });

  it('truncated, extended, bit-flipped, garbage and oversized evidence: a typed error or a contraindicated result, never affirmed', () => {
    const rand = prng(0x9a11);
    const inputs: Uint8Array[] = [new Uint8Array(0), new Uint8Array([0xd2]), Buffer.from('{"not":"cbor"}'), new Uint8Array(33 * 1024 * 1024)];
    for (let cut = 1; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 150))) inputs.push(bytes.subarray(0, cut));
    inputs.push(Buffer.concat([bytes, Buffer.from([0])]));
    for (let i = 0; i < 600; i++) {
      const b = Buffer.from(bytes);
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) b[Math.floor(rand() * b.length)]! ^= 1 << Math.floor(rand() * 8);
      inputs.push(b);
    }
    for (let i = 0; i < 100; i++) inputs.push(Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 400) }, () => Math.floor(rand() * 256))));
    const codes = new Map<string, number>();
    let contraindicated = 0;
    for (const input of inputs) {
      try {
        const r = A.appraise(input, { device: record, nonce });
        assert.notEqual(r.status, 'affirming', 'a mutated evidence was affirmed');
        contraindicated++;
      } catch (e) {
        assert.ok(e instanceof BaseError, `untyped error: ${String(e)}`);
        assert.equal(e.errorClass, 'denied', `${e.code}: ${e.message}`);
        assert.match(e.code, /^(CBOR|COSE|EAT)_/);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    }
    assert.ok(contraindicated > 100, `only ${contraindicated} mutations decoded`);
    assert.ok(codes.size >= 4, [...codes.keys()].join(' '));
    // A non-byte input is a typed refusal too.
    assert.throws(() => A.appraise('evidence' as unknown as Uint8Array, { device: record, nonce }), (e: unknown) => e instanceof BaseError && e.code === 'EAT_MALFORMED');
  });
});

// The enrolment documents as hostile input (no TPM needed): the parsers of the request, challenge,
// proof and the verifier's own pending files refuse anything outside their shape with a typed
// error, before any other code sees the bytes.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EnrolError, EnrolStateDir, MAX_EK_CERTS, completeEnrolment, parseEnrolChallenge, parseEnrolProof, parseEnrolRequest,
} from '../../attest/enrol/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-enrolwire-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (n: number, fill = 1) => Buffer.alloc(n, fill).toString('base64');
const request = () => ({
  ekCerts: [b64(800)], ekPublic: b64(300), akPublic: b64(88), akName: b64(34), deviceKeyPublic: b64(88),
  deviceKeyCertify: { attest: b64(140), signature: b64(72) }, facts: { hostname: 'edge-1', version: '0.1.0' },
});
const challenge = () => ({ enrolmentId: 'ab'.repeat(16), credentialBlob: b64(68), encryptedSecret: b64(256), expiresAt: '2030-01-01T00:00:00.000Z' });

function refused(code: string, field?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof EnrolError, String(e));
    assert.equal(e.code, code, e.message);
    if (field) assert.equal(e.details?.field, field, e.message);
    return true;
  };
}

describe('enrolment documents', () => {
  it('parse when well-formed, from bytes, text or an object', () => {
    const q = parseEnrolRequest(Buffer.from(JSON.stringify(request())));
    assert.equal(q.akName.length, 34);
    assert.equal(parseEnrolRequest(request()).ekCerts.length, 1);
    assert.equal(parseEnrolChallenge(JSON.stringify(challenge())).encryptedSecret.length, 256);
    assert.equal(parseEnrolProof({ proof: b64(32) }).proof.length, 32);
  });

  it('refuse a request with a member too many or too few, or a member of the wrong type or size', () => {
    const cases: Array<[string, (r: any) => void, string]> = [
      ['extra member', (r) => { r.admin = true; }, 'request.admin'],
      ['__proto__ member', (r) => { Object.defineProperty(r, '__proto__', { value: {}, enumerable: true }); }, 'request.__proto__'],
      ['missing akName', (r) => { delete r.akName; }, 'request.akName'],
      ['akName of one byte', (r) => { r.akName = b64(1); }, 'request.akName'],
      ['akName of 67 bytes', (r) => { r.akName = b64(67); }, 'request.akName'],
      ['akName as a number', (r) => { r.akName = 7; }, 'request.akName'],
      ['base64 with a space', (r) => { r.akPublic = `${r.akPublic.slice(0, 8)} ${r.akPublic.slice(8)}`; }, 'request.akPublic'],
      ['base64 with a stray character', (r) => { r.akPublic = `${r.akPublic.slice(0, 8)}*${r.akPublic.slice(9)}`; }, 'request.akPublic'],
      ['empty ekPublic', (r) => { r.ekPublic = ''; }, 'request.ekPublic'],
      ['huge ekPublic', (r) => { r.ekPublic = b64(2049); }, 'request.ekPublic'],
      ['a certificate of 16 KiB + 1', (r) => { r.ekCerts = [b64(16 * 1024 + 1)]; }, 'request.ekCerts[0]'],
      ['ekCerts not an array', (r) => { r.ekCerts = b64(10); }, 'request.ekCerts'],
      ['too many certificates', (r) => { r.ekCerts = Array(MAX_EK_CERTS + 1).fill(b64(10)); }, 'request.ekCerts'],
      ['certify without signature', (r) => { delete r.deviceKeyCertify.signature; }, 'request.deviceKeyCertify.signature'],
      ['facts with an extra member', (r) => { r.facts.os = 'x'; }, 'request.facts.os'],
      ['an escape sequence in the host name', (r) => { r.facts.hostname = 'a\u001b]0;pwned\u0007'; }, 'request.facts.hostname'],
      ['a bidi override in the host name', (r) => { r.facts.hostname = 'abc\u202edef'; }, 'request.facts.hostname'],
      ['an empty host name', (r) => { r.facts.hostname = ''; }, 'request.facts.hostname'],
      ['a host name of 256 characters', (r) => { r.facts.hostname = 'h'.repeat(256); }, 'request.facts.hostname'],
      ['a version of 65 characters', (r) => { r.facts.version = '1'.repeat(65); }, 'request.facts.version'],
    ];
    for (const [what, edit, field] of cases) {
      const r = request();
      edit(r);
      assert.throws(() => parseEnrolRequest(JSON.stringify(r)), refused('ENROL_REQUEST_INVALID', field), what);
    }
  });

  it('refuse documents that are not JSON objects, nest too deep, are too large or are not UTF-8', () => {
    for (const bad of ['[]', 'null', '"x"', '{', '{"ekCerts":[[[[[[[[[[[]]]]]]]]]]]}', Buffer.from([0x7b, 0xff, 0x7d])]) {
      assert.throws(() => parseEnrolRequest(bad), refused('ENROL_REQUEST_INVALID'), String(bad));
    }
    assert.throws(() => parseEnrolRequest(' '.repeat(1024 * 1024 + 1)), (e: unknown) => refused('ENROL_REQUEST_INVALID')(e) && (e as EnrolError).details?.reason === 'ATTEST_JSON_TOO_LARGE');
    assert.throws(() => parseEnrolChallenge(' '.repeat(16 * 1024 + 1)), refused('ENROL_CHALLENGE_INVALID'));
    assert.throws(() => parseEnrolProof(' '.repeat(16 * 1024 + 1)), refused('ENROL_PROOF_INVALID'));
  });

  it('refuse a challenge with an id that could name another file, a bad time, or a blob over its TPM bound', () => {
    const cases: Array<[string, (c: any) => void]> = [
      ['path traversal id', (c) => { c.enrolmentId = '../../../etc/passwd'; }],
      ['upper-case id', (c) => { c.enrolmentId = 'AB'.repeat(16); }],
      ['short id', (c) => { c.enrolmentId = 'ab'; }],
      ['time without zone', (c) => { c.expiresAt = '2030-01-01T00:00:00'; }],
      ['impossible date', (c) => { c.expiresAt = '2030-02-31T12:00:00Z'; }],
      ['impossible hour', (c) => { c.expiresAt = '2030-01-01T25:00:00Z'; }],
      ['credential blob over TPM2B_ID_OBJECT', (c) => { c.credentialBlob = b64(133); }],
      ['encrypted secret over 512 bytes', (c) => { c.encryptedSecret = b64(513); }],
      ['extra member', (c) => { c.secret = b64(32); }],
    ];
    for (const [what, edit] of cases) {
      const c = challenge();
      edit(c);
      assert.throws(() => parseEnrolChallenge(JSON.stringify(c)), refused('ENROL_CHALLENGE_INVALID'), what);
    }
  });

  it('refuse a proof that is not exactly 32 bytes', () => {
    for (const p of [{ proof: b64(31) }, { proof: b64(33) }, { proof: '' }, { proof: b64(32), enrolmentId: 'x' }, {}]) {
      assert.throws(() => parseEnrolProof(p), refused('ENROL_PROOF_INVALID'), JSON.stringify(p));
    }
  });
});

describe('the verifier state directory', () => {
  it('a damaged pending file is an environment error naming it, never a crash or a pass', async () => {
    const state = EnrolStateDir.open(join(dir, 'state'));
    const id = 'cd'.repeat(16);
    for (const content of ['{', JSON.stringify({ version: 1, enrolmentId: id }), JSON.stringify({ version: 2 })]) {
      writeFileSync(join(state.dir, 'pending', `${id}.json`), content);
      await assert.rejects(completeEnrolment(state, id, { proof: Buffer.alloc(32) }), (e: unknown) => refused('ENROL_STATE_INVALID')(e) && (e as EnrolError).exitCode === 3);
    }
  });

  it('a state path that is a file is refused', () => {
    writeFileSync(join(dir, 'a-file'), 'x');
    assert.throws(() => EnrolStateDir.open(join(dir, 'a-file')), refused('ENROL_STATE_INVALID'));
  });
});

// Enrolment through the library on real swtpms: the device side on TPM A (manufactured with EK
// certificates by swtpm-localca), the verifier side in software, every document through its JSON
// form. Each attack is made concrete: an AK from another TPM or a software "AK" (checks pass, the
// credential cannot be activated), a foreign EK (certificate of another key, unknown CA, a
// template edited to get a second identity), a replayed or borrowed proof, a wrong Name.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import {
  TPMA_NV, TPMA_OBJECT, TPMTPublic, EK_CHAIN_NV_FIRST, provision, publicKeyOf, toKeyObject, crypto, unmarshal, parseAttest,
} from '../../hardware/index.ts';
import { builtinEKRootStore, loadEKRootStore } from '../../attest/ekroots/index.ts';
import { ueidFromEKPublic } from '../../attest/eat/index.ts';
import {
  EnrolError, EnrolStateDir, activateEnrolment, buildEnrolRequest, completeEnrolment, createEnrolChallenge, deviceRecordJSON,
  enrolChallengeJSON, enrolProof, enrolProofJSON, enrolRequestJSON, finishEnrolment, parseDeviceRecord, parseEnrolChallenge,
  parseEnrolProof, parseEnrolRequest, startEnrolment, type EnrolRequest, type EnrolChallenge,
} from '../../attest/enrol/index.ts';
import { ecKey, makeEK, makeIntermediate, makeRoot } from '../fixtures/ekcerts.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { withTPM, mustTool, flushToolLeftovers, assertNothingTransient } from '../tpm/helpers.ts';
import { copyRequest, editPublic, localCAFiles, nameOf, softwareAK } from './helpers.ts';

let A: Swtpm;
let B: Swtpm; // a second TPM, without EK certificates: its own seeds, EKs and AK
let dir: string;
let roots: ReturnType<typeof loadEKRootStore>;
let reqA: EnrolRequest;
let reqB: EnrolRequest;

const FACTS = { hostname: 'device-a', version: '0.1.0' };
const facts = { facts: FACTS };

/** Every document through its JSON text, as it travels. */
const wireRequest = (q: EnrolRequest): EnrolRequest => parseEnrolRequest(JSON.stringify(enrolRequestJSON(q)));
const wireChallenge = (c: EnrolChallenge): EnrolChallenge => parseEnrolChallenge(JSON.stringify(enrolChallengeJSON(c)));

function refusedWith(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof EnrolError, `expected EnrolError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

before(async () => {
  [A, B] = await Promise.all([startSwtpm(), startSwtpm({ ek: false })]);
  dir = mkdtempSync(join(tmpdir(), 'tollgate-enrol-'));
  roots = loadEKRootStore(undefined, localCAFiles(A));
  reqA = (await withTPM(A, async (tpm) => { await provision(tpm); return buildEnrolRequest(tpm, facts); })).request;
  reqB = (await withTPM(B, async (tpm) => {
    await provision(tpm);
    // B has no EK certificate; give it one from a CA nobody trusts so it can make a request at all.
    const rogue = makeRoot('Rogue TPM Vendor Root');
    const ek = (await tpm.readPublic(0x81010001)).outPublic;
    return buildEnrolRequest(tpm, { ...facts, extraCertificates: [makeEK(rogue, toKeyObject(publicKeyOf(ek)))] });
  })).request;
});

after(async () => {
  await Promise.all([A, B].map(async (sw) => {
    if (!sw) return;
    try { await withTPM(sw, assertNothingTransient); } finally { await sw.stop(); }
  }));
});

describe('enrolment in two round trips', () => {
  it('enrols with the RSA EK: request, checks and MakeCredential, ActivateCredential through the salted session, proof, record', async () => {
    const q = wireRequest(reqA);
    assert.deepEqual(Object.keys(enrolRequestJSON(q)), ['ekCerts', 'ekPublic', 'akPublic', 'akName', 'deviceKeyPublic', 'deviceKeyCertify', 'facts']);
    // swtpm's RSA-2048 low-range certificate first, then its P-384 high-range one.
    assert.equal(q.ekCerts.length, 2);
    const c = createEnrolChallenge(q, { roots });
    assert.equal(c.checked.ekType, 'rsa');
    assert.deepEqual(Object.keys(enrolChallengeJSON(c.challenge)), ['enrolmentId', 'credentialBlob', 'encryptedSecret', 'expiresAt']);
    assert.match(c.challenge.enrolmentId, /^[0-9a-f]{32}$/);
    assert.equal(c.challenge.encryptedSecret.length, 256);
    const a = await withTPM(A, async (tpm) => {
      const r = await activateEnrolment(tpm, wireChallenge(c.challenge));
      await assertNothingTransient(tpm);
      return r;
    });
    assert.equal(a.ek, 'rsa');
    assert.deepEqual(Object.keys(enrolProofJSON(a.proof)), ['proof']);
    const record = finishEnrolment(c.pending, parseEnrolProof(JSON.stringify(enrolProofJSON(a.proof))));
    const json = deviceRecordJSON(record);
    assert.deepEqual(Object.keys(json), ['version', 'deviceId', 'ueid', 'ekPublic', 'ekCertificates', 'ekChain', 'akPublic', 'akName', 'deviceKeyPublic', 'deviceKeyName', 'deviceKeyCertify', 'enrolledAt', 'facts']);
    const ueid = Buffer.from(ueidFromEKPublic(q.ekPublic));
    assert.equal(json.ueid, ueid.toString('hex'));
    assert.equal(json.deviceId, ueid.subarray(1).toString('hex'));
    assert.equal(json.akName, q.akName.toString('hex'));
    assert.equal(json.deviceKeyName, nameOf(q.deviceKeyPublic).toString('hex'));
    assert.deepEqual(json.facts, FACTS);
    // Both EK certificates chain to swtpm-localca, so both are recorded, the RSA EK's first.
    assert.deepEqual((json.ekCertificates as string[]).map((b) => Buffer.from(b, 'base64')), q.ekCerts);
    const chain = json.ekChain as { vendor: string; path: string[]; root: string };
    assert.equal(chain.vendor, 'IBM (swtpm)');
    assert.equal(chain.root, 'CN=swtpm-localca-rootca');
    assert.equal(chain.path.length, 3);
    // The record reads back, re-checked, as the same record.
    const back = parseDeviceRecord(JSON.stringify(json));
    assert.deepEqual(deviceRecordJSON(back), json);
    assert.equal(back.ak.objectAttributes & TPMA_OBJECT.restricted, TPMA_OBJECT.restricted);
  });

  it('the challenge is standard MakeCredential output: tpm2_activatecredential recovers the secret, and its proof finishes the enrolment', async () => {
    const c = createEnrolChallenge(wireRequest(reqA), { roots });
    const cred = join(dir, 'challenge.cred');
    writeFileSync(cred, crypto.encodeCredentialFile({ credentialBlob: c.challenge.credentialBlob, secret: c.challenge.encryptedSecret }));
    const s = join(dir, 'session.ctx');
    mustTool(A, 'tpm2_startauthsession', ['--policy-session', '-S', s]);
    try {
      mustTool(A, 'tpm2_policysecret', ['-S', s, '-c', 'e']);
      mustTool(A, 'tpm2_activatecredential', ['-c', '0x81008001', '-C', '0x81010001', '-i', cred, '-o', join(dir, 'secret.bin'), '-P', `session:${s}`]);
    } finally {
      flushToolLeftovers(A);
    }
    const secret = readFileSync(join(dir, 'secret.bin'));
    assert.equal(secret.length, 32);
    // The proof as the protocol defines it, computed here independently: HMAC-SHA256(secret, enrolmentId ‖ akName).
    const proof = createHmac('sha256', secret).update(Buffer.concat([Buffer.from(c.challenge.enrolmentId, 'utf8'), reqA.akName])).digest();
    const record = finishEnrolment(c.pending, { proof });
    assert.equal(record.akName.toString('hex'), reqA.akName.toString('hex'));
  });

  it('enrols with the ECC P-256 EK, its certificate and intermediate CA read from NV (a non-DER certificate with a leading-zero serial)', async () => {
    // A vendor-like chain made by code: root (P-384) → intermediate (RSA) → EK certificate for A's
    // ECC EK, encoded the way real TPMs ship them (non-minimal lengths, serial with a leading zero).
    const root = makeRoot('Tollgate Test EK Root', ecKey('P-384'));
    const inter = makeIntermediate(root, 'Tollgate Test EK Intermediate');
    const ATTRS = TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA;
    const rootFile = join(dir, 'test-ek-root.pem');
    writeFileSync(rootFile, `-----BEGIN CERTIFICATE-----\n${root.der.toString('base64')}\n-----END CERTIFICATE-----\n`);
    await withTPM(A, async (tpm) => {
      const ek = (await tpm.readPublic(0x81010002)).outPublic;
      const cert = makeEK(inter, toKeyObject(publicKeyOf(ek)), { serial: Buffer.from([0x00, 0x42, 0x99]), longLengths: true });
      const write = async (index: number, data: Buffer) => {
        await tpm.nvDefineSpace({ nvIndex: index, dataSize: data.length, attributes: ATTRS });
        await tpm.nvWrite(index, data);
      };
      await write(0x01c0000a, Buffer.concat([cert, Buffer.alloc(16, 0xff)]));
      await write(EK_CHAIN_NV_FIRST, inter.der);
    });
    try {
      await withTPM(A, async (tpm) => {
        // auto still picks the RSA EK (its certificate is in NV); the ECC EK is chosen on request.
        assert.equal((await buildEnrolRequest(tpm, facts)).ek, 'rsa');
        const built = await buildEnrolRequest(tpm, { ...facts, ek: 'ecc' });
        assert.equal(built.ek, 'ecc');
        assert.equal(built.ekCertificateFrom, 0x01c0000a);
        assert.ok(built.request.ekCerts.some((d) => d.equals(inter.der)), 'the NV intermediate is sent');
        const store = builtinEKRootStore().with(loadEKRootStore(undefined, [rootFile]).anchors);
        const c = createEnrolChallenge(wireRequest(built.request), { roots: store });
        assert.equal(c.checked.ekType, 'ecc');
        assert.deepEqual(c.checked.chain.links.map((l) => l.from), ['leaf', 'intermediate', 'store']);
        assert.ok(c.checked.ekCertificates[0]!.quirks.length > 0, 'the EK certificate is not DER');
        assert.equal(c.challenge.encryptedSecret.length, 68); // a P-256 point: the device finds its EK from it
        const a = await activateEnrolment(tpm, wireChallenge(c.challenge));
        assert.equal(a.ek, 'ecc');
        const record = finishEnrolment(c.pending, a.proof);
        assert.equal(record.ekPublic.toString('hex'), built.request.ekPublic.toString('hex'));
        assert.equal(record.ekChain.root, 'C=CH, O=Tollgate Test TPM Vendor, CN=Tollgate Test EK Root');
        // The RSA and P-384 certificates chain to swtpm-localca, which this store lacks: left out, with a warning.
        assert.equal(record.ekCertificates.length, 1);
        assert.equal(c.checked.warnings.filter((w) => /left out of the record/.test(w)).length, 2);
        parseDeviceRecord(deviceRecordJSON(record));
        await assertNothingTransient(tpm);
      });
    } finally {
      await withTPM(A, async (tpm) => {
        for (const i of [0x01c0000a, EK_CHAIN_NV_FIRST]) await tpm.nvUndefineSpace(i).catch(() => undefined);
      });
    }
  });

  it('keeps the pending enrolment in a state directory (0700/0600) and finishes it once', async () => {
    const state = EnrolStateDir.open(join(dir, 'state-once'));
    const s = await startEnrolment(state, wireRequest(reqA), { roots });
    assert.equal(statSync(state.dir).mode & 0o777, 0o700);
    assert.equal(statSync(s.pendingPath).mode & 0o777, 0o600);
    // The pending file keeps a digest of the proof, never the secret or the proof itself.
    const a = await withTPM(A, (tpm) => activateEnrolment(tpm, s.challenge));
    const pendingText = readFileSync(s.pendingPath, 'utf8');
    assert.ok(!pendingText.includes(a.proof.proof.toString('hex')) && !pendingText.includes(a.proof.proof.toString('base64')));
    const done = await completeEnrolment(state, s.challenge.enrolmentId, a.proof);
    assert.equal(done.path, join(state.dir, 'devices', `${done.record.deviceId}.json`));
    assert.equal(statSync(done.path).mode & 0o777, 0o600);
    assert.deepEqual(deviceRecordJSON(parseDeviceRecord(readFileSync(done.path))), deviceRecordJSON(done.record));
    assert.deepEqual(readdirSync(join(state.dir, 'pending')), []);
    assert.equal(done.replaced, false);
  });
});

describe('refusals', () => {
  it('a swapped AK from another TPM passes the checks, but no TPM can activate the credential: the proof fails', async () => {
    // A's certified EK, B's AK and B's device key certified by B's AK: every static check holds.
    const q = copyRequest(reqA);
    q.akPublic = reqB.akPublic;
    q.akName = reqB.akName;
    q.deviceKeyPublic = reqB.deviceKeyPublic;
    q.deviceKeyCertify = reqB.deviceKeyCertify;
    const state = EnrolStateDir.open(join(dir, 'state-swap'));
    const s = await startEnrolment(state, wireRequest(q), { roots });
    // A holds the EK but not that AK; B holds the AK but not that EK.
    for (const sw of [A, B]) {
      await withTPM(sw, async (tpm) => {
        await assert.rejects(activateEnrolment(tpm, s.challenge), refusedWith('ENROL_ACTIVATION_FAILED'));
        await assertNothingTransient(tpm);
      });
    }
    // A proof made without the secret (A's genuine AK Name, or B's) does not finish it.
    for (const name of [reqA.akName, reqB.akName]) {
      await assert.rejects(completeEnrolment(state, s.challenge.enrolmentId, { proof: enrolProof(randomBytes(32), s.challenge.enrolmentId, name) }), refusedWith('ENROL_PROOF_WRONG'));
    }
    assert.deepEqual(readdirSync(join(state.dir, 'devices')), []);
  });

  it('a software "AK" claiming every AK attribute and re-signing the TPM\'s certification passes the checks; activation refuses it', async () => {
    const fake = softwareAK(reqA.deviceKeyCertify.attest);
    const q = copyRequest(reqA);
    q.akPublic = fake.akPublic;
    q.akName = fake.akName;
    q.deviceKeyCertify = { attest: reqA.deviceKeyCertify.attest, signature: fake.signature };
    const c = createEnrolChallenge(wireRequest(q), { roots });
    await withTPM(A, async (tpm) => {
      await assert.rejects(activateEnrolment(tpm, c.challenge), (e: unknown) => refusedWith('ENROL_ACTIVATION_FAILED')(e) && /TPM_RC_INTEGRITY/.test((e as EnrolError).message));
    });
    assert.throws(() => finishEnrolment(c.pending, { proof: enrolProof(randomBytes(32), c.challenge.enrolmentId, fake.akName) }), refusedWith('ENROL_PROOF_WRONG'));
  });

  it('an AK that is not a restricted, TPM-bound signing key is refused before any challenge', () => {
    const cases: Array<[string, (q: EnrolRequest) => void]> = [
      ['the device key posing as the AK (unrestricted)', (q) => { q.akPublic = q.deviceKeyPublic; }],
      ['restricted decrypt added', (q) => { q.akPublic = editPublic(q.akPublic, (p) => { p.objectAttributes |= TPMA_OBJECT.decrypt; }); }],
      ['fixedTPM cleared (duplicable)', (q) => { q.akPublic = editPublic(q.akPublic, (p) => { p.objectAttributes &= ~TPMA_OBJECT.fixedTPM; }); }],
      ['sensitiveDataOrigin cleared (key imported)', (q) => { q.akPublic = editPublic(q.akPublic, (p) => { p.objectAttributes &= ~TPMA_OBJECT.sensitiveDataOrigin; }); }],
      ['adminWithPolicy added', (q) => { q.akPublic = editPublic(q.akPublic, (p) => { p.objectAttributes |= TPMA_OBJECT.adminWithPolicy; }); }],
      ['the EK posing as the AK', (q) => { q.akPublic = q.ekPublic; }],
    ];
    for (const [what, edit] of cases) {
      const q = copyRequest(reqA);
      edit(q);
      q.akName = nameOf(q.akPublic); // the attacker recomputes the Name: only the attributes can refuse it
      assert.throws(() => createEnrolChallenge(wireRequest(q), { roots }), refusedWith('ENROL_AK_INVALID'), what);
    }
  });

  it('a wrong AK Name is refused: another key\'s Name, a Name under another hash, a truncated Name', () => {
    const names: Array<[string, Buffer]> = [
      ['the device key\'s Name', nameOf(reqA.deviceKeyPublic)],
      ['the AK Name of another TPM', reqB.akName],
      ['the AK digest labelled SHA-384', Buffer.concat([Buffer.from([0x00, 0x0c]), reqA.akName.subarray(2), Buffer.alloc(16)])],
      ['a truncated Name', reqA.akName.subarray(0, 20)],
      ['one bit flipped', Buffer.from(reqA.akName.map((b, i) => (i === 10 ? b ^ 1 : b)))],
    ];
    for (const [what, name] of names) {
      const q = copyRequest(reqA);
      q.akName = name;
      assert.throws(() => createEnrolChallenge(wireRequest(q), { roots }), refusedWith('ENROL_AK_NAME_MISMATCH'), what);
    }
    // And the other way round: the genuine AK Name with another public area.
    const q = copyRequest(reqA);
    q.akPublic = reqB.akPublic;
    assert.throws(() => createEnrolChallenge(wireRequest(q), { roots }), refusedWith('ENROL_AK_NAME_MISMATCH'));
  });

  it('a foreign EK is refused: certificates of another key, a chain to an unknown CA, an unknown store, an edited EK template', () => {
    // B's EK with A's certificates: no certificate certifies it.
    const q1 = copyRequest(reqA);
    q1.ekPublic = reqB.ekPublic;
    assert.throws(() => createEnrolChallenge(wireRequest(q1), { roots }), refusedWith('ENROL_EK_CERT_MISSING'));
    // B's own request: its EK certificate is from a CA no store holds.
    assert.throws(() => createEnrolChallenge(wireRequest(reqB), { roots }), (e: unknown) => refusedWith('ENROL_EK_CHAIN_INVALID')(e) && (e as EnrolError).details?.reason === 'EK_CHAIN_NO_ISSUER');
    // A's genuine request against the built-in vendor CAs alone: swtpm-localca is no TPM vendor.
    assert.throws(() => createEnrolChallenge(wireRequest(reqA), { roots: builtinEKRootStore() }), refusedWith('ENROL_EK_CHAIN_INVALID'));
    // An impostor CA with swtpm-localca's name signs a certificate for B's EK, and is sent along as an intermediate.
    const impostor = makeRoot('swtpm-localca', ecKey('P-256'), { name: Buffer.from(roots.anchors.find((a) => a.cert.subject.text === 'CN=swtpm-localca')!.cert.subject.der) });
    const q2 = copyRequest(reqB);
    q2.ekCerts = [makeEK(impostor, toKeyObject(publicKeyOf(unmarshal(TPMTPublic, reqB.ekPublic)))), impostor.der];
    assert.throws(() => createEnrolChallenge(wireRequest(q2), { roots }), refusedWith('ENROL_EK_CHAIN_INVALID'));
    // The certified RSA key under an edited template (userWithAuth set): a second identity for the same TPM.
    const q3 = copyRequest(reqA);
    q3.ekPublic = editPublic(q3.ekPublic, (p) => { p.objectAttributes |= TPMA_OBJECT.userWithAuth; });
    assert.throws(() => createEnrolChallenge(wireRequest(q3), { roots }), refusedWith('ENROL_EK_PUBLIC_INVALID'));
  });

  it('a device key that is restricted, not certified by this AK, or certified as another object is refused', () => {
    const q1 = copyRequest(reqA);
    q1.deviceKeyPublic = reqA.akPublic;
    assert.throws(() => createEnrolChallenge(wireRequest(q1), { roots }), refusedWith('ENROL_DEVICE_KEY_INVALID'));
    const q2 = copyRequest(reqA);
    q2.deviceKeyPublic = editPublic(q2.deviceKeyPublic, (p) => { p.objectAttributes |= TPMA_OBJECT.decrypt; });
    assert.throws(() => createEnrolChallenge(wireRequest(q2), { roots }), refusedWith('ENROL_DEVICE_KEY_INVALID'));
    // B's device key with A's certification: the certified Name is another object's.
    const q3 = copyRequest(reqA);
    q3.deviceKeyPublic = reqB.deviceKeyPublic;
    assert.throws(() => createEnrolChallenge(wireRequest(q3), { roots }), (e: unknown) => refusedWith('ENROL_DEVICE_KEY_CERTIFY_INVALID')(e) && (e as EnrolError).details?.reason === 'CERTIFY_NAME_MISMATCH');
    // B's certification (made by B's AK) next to A's AK: the signature is not this AK's.
    const q4 = copyRequest(reqA);
    q4.deviceKeyCertify = reqB.deviceKeyCertify;
    q4.deviceKeyPublic = reqB.deviceKeyPublic;
    assert.throws(() => createEnrolChallenge(wireRequest(q4), { roots }), (e: unknown) => refusedWith('ENROL_DEVICE_KEY_CERTIFY_INVALID')(e) && (e as EnrolError).details?.reason === 'CERTIFY_SIGNATURE_INVALID');
    // A certification that is a quote's TPMS_ATTEST would not even be of the right type; a flipped byte breaks the signature.
    const q5 = copyRequest(reqA);
    q5.deviceKeyCertify.attest[q5.deviceKeyCertify.attest.length - 3]! ^= 1;
    assert.throws(() => createEnrolChallenge(wireRequest(q5), { roots }), refusedWith('ENROL_DEVICE_KEY_CERTIFY_INVALID'));
    assert.equal(parseAttest(reqA.deviceKeyCertify.attest).type, 0x8017);
  });

  it('a replayed answer is refused: a second finish, a proof for another enrolment, an expired enrolment, an unknown id', async () => {
    const state = EnrolStateDir.open(join(dir, 'state-replay'));
    const q = wireRequest(reqA);
    const first = await startEnrolment(state, q, { roots });
    const second = await startEnrolment(state, q, { roots });
    const [p1, p2] = await withTPM(A, async (tpm) => [await activateEnrolment(tpm, first.challenge), await activateEnrolment(tpm, second.challenge)]);
    // Each proof answers its own enrolment only (the id is under the MAC, the secrets differ).
    await assert.rejects(completeEnrolment(state, second.challenge.enrolmentId, p1!.proof), refusedWith('ENROL_PROOF_WRONG'));
    await completeEnrolment(state, first.challenge.enrolmentId, p1!.proof);
    await assert.rejects(completeEnrolment(state, first.challenge.enrolmentId, p1!.proof), refusedWith('ENROL_REPLAYED'));
    // The proof of the finished enrolment replayed against the still pending one.
    await assert.rejects(completeEnrolment(state, second.challenge.enrolmentId, p1!.proof), refusedWith('ENROL_PROOF_WRONG'));
    // Too late: the right proof after the challenge expired.
    const late = new Date(Date.parse(second.challenge.expiresAt) + 1000);
    await assert.rejects(completeEnrolment(state, second.challenge.enrolmentId, p2!.proof, { now: late }), refusedWith('ENROL_EXPIRED'));
    // Swept once it expired: then it is unknown.
    assert.equal(await state.sweep(late), 0);
    await assert.rejects(completeEnrolment(state, second.challenge.enrolmentId, p2!.proof), refusedWith('ENROL_UNKNOWN'));
    await assert.rejects(completeEnrolment(state, randomBytes(16).toString('hex'), p2!.proof), refusedWith('ENROL_UNKNOWN'));
    for (const bad of ['../../etc/passwd', first.challenge.enrolmentId.toUpperCase(), '']) {
      await assert.rejects(completeEnrolment(state, bad, p2!.proof), refusedWith('ENROL_ID_INVALID'));
    }
  });

  it('a request with any byte of its TPM structures or certificates changed is refused with a typed error, never a crash', () => {
    // Seeded, so a failure reproduces: xorshift32.
    let seed = 0x9e3779b9;
    const rnd = (n: number) => {
      seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
      return seed % n;
    };
    const fields: Array<[string, (q: EnrolRequest) => Buffer]> = [
      ['ekPublic', (q) => q.ekPublic], ['akPublic', (q) => q.akPublic], ['deviceKeyPublic', (q) => q.deviceKeyPublic],
      ['attest', (q) => q.deviceKeyCertify.attest], ['signature', (q) => q.deviceKeyCertify.signature], ['ekCerts[0]', (q) => q.ekCerts[0]!],
    ];
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const q = copyRequest(reqA);
      const [what, field] = fields[i % fields.length]!;
      const b = field(q);
      const at = rnd(b.length);
      b[at]! ^= 1 << rnd(8);
      // Half of the AK edits come with the Name recomputed, as an attacker would send them.
      if (what === 'akPublic' && i % 2 === 0) q.akName = Buffer.from(nameOfOrEmpty(q.akPublic));
      try {
        createEnrolChallenge(q, { roots });
      } catch (e) {
        assert.ok(e instanceof EnrolError && e.errorClass === 'denied', `${what} byte ${at}: ${String(e)}`);
        refused++;
      }
    }
    // A flip inside a signature's padding or an unused field can survive; nearly all must not.
    assert.ok(refused >= 280, `only ${refused} of 300 refused`);
  });

  it('a full state directory refuses more challenges until the pending ones expire and are swept', async () => {
    const state = EnrolStateDir.open(join(dir, 'state-full'), { maxPending: 2 });
    const q = wireRequest(reqA);
    const now = new Date();
    await startEnrolment(state, q, { roots, now, ttlSeconds: 60 });
    await startEnrolment(state, q, { roots, now, ttlSeconds: 60 });
    await assert.rejects(startEnrolment(state, q, { roots, now }), refusedWith('ENROL_STATE_FULL'));
    assert.equal(readdirSync(join(state.dir, 'pending')).length, 2);
    // Two minutes later both have expired: the next challenge sweeps them first.
    const later = new Date(now.getTime() + 120_000);
    const third = await startEnrolment(state, q, { roots, now: later });
    assert.deepEqual(readdirSync(join(state.dir, 'pending')), [`${third.challenge.enrolmentId}.json`]);
  });

  it('a challenge altered on the way is refused by the TPM, and one not for this TPM\'s EK type by its form', async () => {
    const c = createEnrolChallenge(wireRequest(reqA), { roots });
    await withTPM(A, async (tpm) => {
      const blob = Buffer.from(c.challenge.credentialBlob);
      blob[blob.length - 1]! ^= 1;
      await assert.rejects(activateEnrolment(tpm, { ...c.challenge, credentialBlob: blob }), refusedWith('ENROL_ACTIVATION_FAILED'));
      const secret = Buffer.from(c.challenge.encryptedSecret);
      secret[7]! ^= 1;
      await assert.rejects(activateEnrolment(tpm, { ...c.challenge, encryptedSecret: secret }), refusedWith('ENROL_ACTIVATION_FAILED'));
      await assert.rejects(activateEnrolment(tpm, { ...c.challenge, encryptedSecret: secret.subarray(0, 100) }), refusedWith('ENROL_CHALLENGE_INVALID'));
      await assertNothingTransient(tpm);
    });
  });
});

describe('the enrolled-device record', () => {
  it('refuses a record edited at rest: another AK, Name, device id, EK, certificate, or a member too many', async () => {
    const c = createEnrolChallenge(wireRequest(reqA), { roots });
    const a = await withTPM(A, (tpm) => activateEnrolment(tpm, c.challenge));
    const good = deviceRecordJSON(finishEnrolment(c.pending, a.proof));
    parseDeviceRecord(good);
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
    const edits: Array<[string, (r: Record<string, any>) => void]> = [
      ['AK of another TPM (with its Name)', (r) => { r.akPublic = b64(reqB.akPublic); r.akName = reqB.akName.toString('hex'); }],
      ['AK Name', (r) => { r.akName = reqB.akName.toString('hex'); }],
      ['device key of another TPM', (r) => { r.deviceKeyPublic = b64(reqB.deviceKeyPublic); r.deviceKeyName = nameOf(reqB.deviceKeyPublic).toString('hex'); }],
      ['device id', (r) => { r.deviceId = 'ab'.repeat(32); }],
      ['EK of another TPM', (r) => { r.ekPublic = b64(reqB.ekPublic); }],
      ['EK certificate of another key first', (r) => { r.ekCertificates = [r.ekCertificates[1]]; }],
      ['an extra member', (r) => { r.trusted = true; }],
      ['a missing member', (r) => { delete r.facts; }],
      ['version 2', (r) => { r.version = 2; }],
      ['upper-case hex', (r) => { r.akName = r.akName.toUpperCase(); }],
      ['a control character in the host name', (r) => { r.facts = { ...r.facts, hostname: 'a\u001b[2Jb' }; }],
    ];
    for (const [what, edit] of edits) {
      const r = structuredClone(good) as Record<string, any>;
      edit(r);
      assert.throws(() => parseDeviceRecord(JSON.stringify(r)), refusedWith('ENROL_RECORD_INVALID'), what);
    }
  });
});

/** The Name of a public area, or empty when its nameAlg is not a hash (the check then refuses the area). */
function nameOfOrEmpty(pub: Buffer): Uint8Array {
  try {
    return nameOf(pub);
  } catch {
    return new Uint8Array(0);
  }
}

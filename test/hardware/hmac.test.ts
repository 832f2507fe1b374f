// HMAC sessions through the execute path against swtpm: salted to a TPM key, AES-CFB parameter
// encryption both ways (the secret never crosses the wire in clear), response HMACs verified, and
// a response altered in transit (one flipped bit) detected.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Swtpm } from '../swtpm.ts';
import { hardwareSwtpm } from './shared-swtpm.ts';
import {
  TPM, openTPM, HmacSession, PolicySession, TPMError, TPMResponseAuthError, TPM_RH, TPM_HT, TPM_CC, TPMA_NV, TPMA_OBJECT,
  makeCredential, tpmPublicKey, policySecret as swPolicySecret,
} from '../../hardware/index.ts';
import { eccStorage, eccSigning } from './templates.ts';
import { Wire } from './wire.ts';

describe('HMAC sessions', () => {
  let sw: Swtpm;
  let tpm: TPM;
  let wire: Wire;
  const NV = 0x01500200;
  const PASSWORD = 'nv index password';

  before(async () => {
    sw = await hardwareSwtpm();
    tpm = await openTPM(sw.uri, { wrapTransport: (t) => (wire = new Wire(t)) });
    await tpm.nvDefineSpace({ nvIndex: NV, dataSize: 64, attributes: TPMA_NV.AUTHWRITE | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA }, { auth: PASSWORD });
  });

  after(async () => {
    await tpm?.nvUndefineSpace(NV).catch(() => undefined);
    await tpm?.close().catch(() => undefined);
    await sw?.stop();
  });

  it('a salted session with AES-CFB writes and reads a secret that never appears on the wire', async () => {
    await tpm.withTransient(async () => {
      const srk = await tpm.createPrimary(TPM_RH.OWNER, eccStorage());
      const s = await HmacSession.start(tpm, { saltKey: { handle: srk.handle, public: srk.outPublic }, auth: PASSWORD });
      const secret = randomBytes(64);
      wire.log = [];
      await tpm.nvWrite(NV, secret, { authorization: s });
      const back = await tpm.nvRead(NV, { authorization: s });
      assert.deepEqual(back, secret);
      for (const b of [...wire.sentBytes(), ...wire.receivedBytes()]) assert.equal(b.indexOf(secret.subarray(0, 16)), -1, 'secret bytes seen on the wire');
      assert.equal(wire.sentBytes().some((b) => b.includes(Buffer.from(PASSWORD))), false, 'the password itself never travels');
      // The session keeps working across commands (nonces stay in step), and a wrong password is refused.
      assert.deepEqual(await tpm.nvRead(NV, { authorization: s }), secret);
      s.auth = Buffer.from('wrong');
      await assert.rejects(tpm.nvRead(NV, { authorization: s }), (e: unknown) => e instanceof TPMError && e.code === 'TPM_RC_BAD_AUTH' && e.info.session === 1);
      s.auth = Buffer.from(PASSWORD);
      assert.deepEqual(await tpm.nvRead(NV, { authorization: s }), secret);
      assert.ok((await tpm.handles(TPM_HT.LOADED_SESSION)).includes(s.handle));
    });
    // Only the connection's own secure session (used by nvDefineSpace in before()) is left.
    assert.ok(tpm.secureSessionHandle !== undefined);
    assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), [tpm.secureSessionHandle]);
  });

  it('a response altered in transit (one flipped bit) fails its HMAC check', async () => {
    await tpm.withTransient(async () => {
      const srk = await tpm.createPrimary(TPM_RH.OWNER, eccStorage());
      const s = await HmacSession.start(tpm, { saltKey: { handle: srk.handle, public: srk.outPublic }, auth: PASSWORD });
      const secret = randomBytes(64);
      await tpm.nvWrite(NV, secret, { authorization: s });
      // NV_Read response: header(10) parameterSize(4) size(2) data(64) then the authorization area.
      for (const at of [20, 40, 75]) { // inside the (encrypted) data
        wire.alterResponse = { cc: TPM_CC.NV_Read, fn: (r) => { r[at]! ^= 0x04; } };
        await assert.rejects(tpm.nvRead(NV, { authorization: s }), (e: unknown) => e instanceof TPMResponseAuthError && e.code === 'TPM_RESPONSE_AUTH_FAILED');
      }
      wire.alterResponse = { cc: TPM_CC.NV_Read, fn: (r) => { r[r.length - 1]! ^= 0x80; } }; // in the response HMAC itself
      await assert.rejects(tpm.nvRead(NV, { authorization: s }), TPMResponseAuthError);
      // An unaltered response still verifies: the session stayed in step.
      assert.deepEqual(await tpm.nvRead(NV, { authorization: s }), secret);
    });
  });

  it('an unsalted session without parameter encryption authorizes the owner hierarchy (empty authValue)', async () => {
    await tpm.withTransient(async () => {
      const s = await HmacSession.start(tpm, { aesBits: null });
      const IDX = 0x01500201;
      await tpm.nvDefineSpace({ nvIndex: IDX, dataSize: 8, attributes: TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA }, { authorization: s });
      await tpm.nvWrite(IDX, Buffer.from('abcdefgh'), { authorization: s });
      assert.equal((await tpm.nvRead(IDX, { authorization: s })).toString(), 'abcdefgh');
      await tpm.nvUndefineSpace(IDX, { authorization: s });
    });
  });
});

describe('policy sessions', () => {
  let sw: Swtpm;
  let tpm: TPM;

  before(async () => {
    sw = await hardwareSwtpm();
    tpm = await openTPM(sw.uri);
  });
  after(async () => {
    await tpm?.close().catch(() => undefined);
    await sw?.stop();
  });

  it('an EK-style key (policy: PolicySecret on the endorsement hierarchy) activates a credential only through a satisfied policy session', async () => {
    await tpm.withTransient(async () => {
      // Restricted decrypt key under the endorsement hierarchy whose only authorization is policy A.
      const policyA = Buffer.from(swPolicySecret('sha256', Buffer.from('4000000b', 'hex')));
      const tmpl = eccStorage();
      tmpl.objectAttributes = (tmpl.objectAttributes & ~TPMA_OBJECT.userWithAuth) | TPMA_OBJECT.adminWithPolicy;
      tmpl.authPolicy = policyA;
      const ek = await tpm.createPrimary(TPM_RH.ENDORSEMENT, tmpl);
      const ak = await tpm.createPrimary(TPM_RH.OWNER, eccSigning(true));
      const cred = randomBytes(32);
      const { credentialBlob, secret } = makeCredential(tpmPublicKey(ek.outPublic), ak.name, cred);

      // A password for the EK is not enough (userWithAuth is clear).
      await assert.rejects(tpm.activateCredential(ak.handle, ek.handle, credentialBlob, secret), (e: unknown) => e instanceof TPMError && e.code === 'TPM_RC_AUTH_UNAVAILABLE');
      // A policy session that has not run PolicySecret does not satisfy the policy.
      const empty = await PolicySession.start(tpm);
      await assert.rejects(tpm.activateCredential(ak.handle, ek.handle, credentialBlob, secret, { keyAuth: empty }), (e: unknown) => e instanceof TPMError && e.code === 'TPM_RC_POLICY_FAIL' && e.info.session === 2);
      // Salted, with parameter encryption: the recovered credential comes back encrypted on the wire.
      const srkLike = ek; // the EK itself can salt the session
      const ps = await PolicySession.start(tpm, { saltKey: { handle: srkLike.handle, public: srkLike.outPublic }, aesBits: 128, continueSession: false });
      await tpm.policySecret(TPM_RH.ENDORSEMENT, ps.handle, { nonceTPM: ps.nonceTPM });
      assert.deepEqual(await tpm.policyGetDigest(ps.handle), policyA);
      assert.deepEqual(await tpm.activateCredential(ak.handle, ek.handle, credentialBlob, secret, { keyAuth: ps }), cred);
      // continueSession was clear: the TPM flushed the session and the bookkeeping knows it.
      assert.ok(!tpm.liveHandles().includes(ps.handle));
      assert.ok(!(await tpm.handles(TPM_HT.LOADED_SESSION)).includes(ps.handle));
    });
    // ActivateCredential's AK side went through the connection's secure session, which stays for
    // the connection; nothing else is left, and close() flushes that one too.
    assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), [tpm.secureSessionHandle]);
    assert.deepEqual(await tpm.handles(TPM_HT.TRANSIENT), []);
    await tpm.close();
    tpm = await openTPM(sw.uri);
    assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), []);
  });
});

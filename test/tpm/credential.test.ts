// Credential activation (AK enrollment) interop with tpm2-tools, both ways, on one swtpm:
//   our software MakeCredential → tpm2_activatecredential (RSA and ECC EKs), and
//   tpm2_makecredential -T none → our TPM2_ActivateCredential (EK policy session with
//   PolicySecret(endorsement), AK through a salted HMAC session with parameter encryption).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TollgateError, PolicySession, tpmPublicKey, crypto, type TPMTPublic } from '../../hardware/index.ts';
import { provision, activateAKCredential, AK_HANDLE, PERSISTENT_HANDLES } from '../../hardware/provision.ts';
import { encodePublicFile } from '../../hardware/tpm2tools.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { withTPM, tool, mustTool, flushToolLeftovers, assertNothingTransient, endSuite } from './helpers.ts';

let sw: Swtpm;
let dir: string;
let ek: Record<'rsa' | 'ecc', TPMTPublic>;
let akName: Buffer;
let deviceName: Buffer;

before(async () => {
  sw = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-cred-'));
  await withTPM(sw, async (tpm) => {
    const r = await provision(tpm);
    ek = { rsa: r.keys.find((k) => k.role === 'ek-rsa')!.public, ecc: r.keys.find((k) => k.role === 'ek-ecc')!.public };
    akName = r.ak.name;
    deviceName = r.deviceKey.name;
  });
});

after(() => endSuite(sw, dir));

/** tpm2_activatecredential with the EK policy session tpm2-tools needs. */
function toolsActivate(ekHandle: number, credFile: string, out: string): { status: number | null; stderr: string } {
  const s = join(dir, 'session.ctx');
  mustTool(sw, 'tpm2_startauthsession', ['--policy-session', '-S', s]);
  try {
    mustTool(sw, 'tpm2_policysecret', ['-S', s, '-c', 'e']);
    return tool(sw, 'tpm2_activatecredential', ['-c', `0x${AK_HANDLE.toString(16)}`, '-C', `0x${ekHandle.toString(16)}`, '-i', credFile, '-o', out, '-P', `session:${s}`]);
  } finally {
    flushToolLeftovers(sw);
  }
}

describe('credential activation interop', () => {
  for (const alg of ['rsa', 'ecc'] as const) {
    it(`tpm2_activatecredential recovers a credential from our software MakeCredential (${alg.toUpperCase()} EK)`, () => {
      const secret = randomBytes(32);
      const cred = crypto.makeCredential(tpmPublicKey(ek[alg]), akName, secret);
      const f = join(dir, `ours-${alg}.cred`);
      writeFileSync(f, crypto.encodeCredentialFile(cred));
      const out = join(dir, `ours-${alg}.out`);
      const r = toolsActivate(PERSISTENT_HANDLES[alg === 'rsa' ? 'ek-rsa' : 'ek-ecc'], f, out);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(readFileSync(out), secret);
    });
  }

  it('tpm2_activatecredential refuses our credential when it was bound to another key', () => {
    const cred = crypto.makeCredential(tpmPublicKey(ek.rsa), deviceName, randomBytes(16));
    const f = join(dir, 'wrong.cred');
    writeFileSync(f, crypto.encodeCredentialFile(cred));
    assert.notEqual(toolsActivate(PERSISTENT_HANDLES['ek-rsa'], f, join(dir, 'wrong.out')).status, 0);
  });

  it('we activate what tpm2_makecredential -T none made (RSA EK), with a policy and a salted HMAC session', async () => {
    const secret = randomBytes(20);
    writeFileSync(join(dir, 'ek.pub'), encodePublicFile(ek.rsa));
    writeFileSync(join(dir, 'secret.bin'), secret);
    mustTool(sw, 'tpm2_makecredential', ['-T', 'none', '-u', join(dir, 'ek.pub'), '-s', join(dir, 'secret.bin'), '-n', akName.toString('hex'), '-o', join(dir, 'tools.cred')]);
    const c = crypto.parseCredentialFile(readFileSync(join(dir, 'tools.cred')));
    const got = await withTPM(sw, (tpm) => activateAKCredential(tpm, c));
    assert.deepEqual(got, secret);
    // Made for the device key's Name: the TPM's integrity check refuses it.
    mustTool(sw, 'tpm2_makecredential', ['-T', 'none', '-u', join(dir, 'ek.pub'), '-s', join(dir, 'secret.bin'), '-n', deviceName.toString('hex'), '-o', join(dir, 'tools-dev.cred')]);
    const wrong = crypto.parseCredentialFile(readFileSync(join(dir, 'tools-dev.cred')));
    await withTPM(sw, async (tpm) => {
      await assert.rejects(activateAKCredential(tpm, wrong), (e: unknown) => e instanceof TollgateError && /TPM_RC_INTEGRITY/.test(e.code));
      await assertNothingTransient(tpm);
    });
  });

  it('we activate our own software credential on the ECC EK, and the EK refuses a policy session without PolicySecret', async () => {
    const secret = randomBytes(32);
    const c = crypto.makeCredential(tpmPublicKey(ek.ecc), akName, secret);
    await withTPM(sw, async (tpm) => {
      assert.deepEqual(await activateAKCredential(tpm, { ...c, ek: 'ecc' }), secret);
      await assert.rejects(tpm.withTransient(async () => {
        const empty = await PolicySession.start(tpm);
        return tpm.activateCredential(AK_HANDLE, PERSISTENT_HANDLES['ek-ecc'], c.credentialBlob, c.secret, { keyAuth: empty });
      }), (e: unknown) => e instanceof TollgateError && e.code === 'TPM_RC_POLICY_FAIL');
      await assertNothingTransient(tpm);
    });
  });
});

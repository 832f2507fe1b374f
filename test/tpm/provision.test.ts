// Provisioning against a real swtpm: idempotence, recreation of a missing piece, a foreign object
// at our handle, the device key certification, and EK certificates chained to swtpm-localca.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { openTPM, TPM_HT, TPM_RH, TPM_ALG, TPMA_OBJECT, hex32, type TPM, type TPMTPublic } from '../../hardware/index.ts';
import { provision, inspectHandles, certifyDeviceKey, verifyCertification, requireAK, ProvisionError, PERSISTENT_HANDLES, AK_HANDLE, DEVICE_KEY_HANDLE, SRK_HANDLE } from '../../hardware/provision.ts';
import { readEKCertificates, parseCABundle, verifyEKCertChain, ekCertMatches, EKCertError } from '../../hardware/ekcert.ts';
import { deviceKeyTemplate, akTemplate, ekRSATemplate, publicKeyOf } from '../../hardware/keys.ts';
import { quote } from '../../hardware/quote.ts';
import { parsePCRList } from '../../hardware/tpm2tools.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { bitFlips, closeSuite } from './helpers.ts';

let sw: Swtpm;
let tpm: TPM;

before(async () => {
  sw = await startSwtpm();
  tpm = await openTPM(sw.uri);
});

after(() => closeSuite(sw, tpm));

function names(r: Awaited<ReturnType<typeof provision>>): Record<string, string> {
  return Object.fromEntries(r.keys.map((k) => [k.role, k.name.toString('hex')]));
}

async function persistentHandles(): Promise<string[]> {
  return (await tpm.handles(TPM_HT.PERSISTENT)).map(hex32);
}

describe('provisioning', () => {
  it('refuses to quote before provisioning: no AK', async () => {
    await assert.rejects(requireAK(tpm), (e: unknown) => e instanceof ProvisionError && e.code === 'PROVISION_NOT_PROVISIONED' && e.errorClass === 'environment');
  });

  it('creates every key at its documented handle, with our templates', async () => {
    const r = await provision(tpm);
    assert.equal(r.changed, true);
    assert.deepEqual(r.keys.map((k) => [k.role, hex32(k.handle)]), [
      ['srk', '0x81000001'], ['ek-rsa', '0x81010001'], ['ek-ecc', '0x81010002'], ['ak', '0x81008001'], ['device', '0x81008002'],
    ]);
    const ak = r.ak.public;
    assert.equal(ak.type, TPM_ALG.ECC);
    assert.ok(ak.objectAttributes & TPMA_OBJECT.restricted && ak.objectAttributes & TPMA_OBJECT.sign && ak.objectAttributes & TPMA_OBJECT.noDA);
    const dev = r.deviceKey.public;
    assert.equal(dev.objectAttributes & TPMA_OBJECT.restricted, 0);
    assert.ok(dev.objectAttributes & TPMA_OBJECT.fixedTPM && dev.objectAttributes & TPMA_OBJECT.noDA);
    assert.match(r.ak.pem, /^-----BEGIN PUBLIC KEY-----/);
    // The certification names exactly the device key and is signed by exactly the AK.
    verifyCertification({ ak: r.ak.public, attest: r.certification.attestBytes, signature: r.certification.signatureBytes, objectName: r.deviceKey.name, qualifyingData: r.certification.qualifyingData });
  });

  it('changes nothing on a second run: same handles, same names', async () => {
    const handles = await persistentHandles();
    const r1 = await provision(tpm);
    const r2 = await provision(tpm);
    assert.equal(r1.changed, false);
    assert.equal(r2.changed, false);
    assert.ok(r2.keys.every((k) => !k.created));
    assert.deepEqual(names(r2), names(r1));
    assert.deepEqual(await persistentHandles(), handles);
  });

  it('recreates a missing AK (new key), keeps the rest, and certifies with the new AK', async () => {
    const before = names(await provision(tpm));
    await tpm.evictControl(TPM_RH.OWNER, AK_HANDLE, AK_HANDLE);
    assert.equal((await inspectHandles(tpm, ['ak']))[0]!.state, 'absent');
    const r = await provision(tpm);
    assert.equal(r.changed, true);
    assert.deepEqual(r.keys.filter((k) => k.created).map((k) => k.role), ['ak']);
    assert.notEqual(names(r).ak, before.ak);
    assert.equal(names(r).device, before.device);
    assert.equal(names(r).srk, before.srk);
    verifyCertification({ ak: r.ak.public, attest: r.certification.attestBytes, signature: r.certification.signatureBytes, objectName: r.deviceKey.name });
  });

  it('recreates a missing SRK as the same key (a primary is derived from template and seed)', async () => {
    const before = names(await provision(tpm));
    await tpm.evictControl(TPM_RH.OWNER, SRK_HANDLE, SRK_HANDLE);
    const r = await provision(tpm);
    assert.deepEqual(r.keys.filter((k) => k.created).map((k) => k.role), ['srk']);
    assert.deepEqual(names(r), before);
  });

  it('reports a foreign object at our handle with a typed error and leaves it alone', async () => {
    // Replace the device key with a key of another template (DA-protected, restricted).
    await tpm.evictControl(TPM_RH.OWNER, DEVICE_KEY_HANDLE, DEVICE_KEY_HANDLE);
    const foreignTemplate: TPMTPublic = { ...akTemplate(), objectAttributes: akTemplate().objectAttributes & ~TPMA_OBJECT.noDA };
    await tpm.withTransient(async () => {
      const c = await tpm.create(SRK_HANDLE, foreignTemplate);
      const h = (await tpm.load(SRK_HANDLE, c.outPrivate, c.outPublic)).handle;
      await tpm.evictControl(TPM_RH.OWNER, h, DEVICE_KEY_HANDLE);
    });
    const foreignName = (await tpm.readPublic(DEVICE_KEY_HANDLE)).name.toString('hex');
    const handles = await persistentHandles();
    // Also remove the AK: a foreign object must stop provisioning before anything is created.
    await tpm.evictControl(TPM_RH.OWNER, AK_HANDLE, AK_HANDLE);
    const without = await persistentHandles();
    await assert.rejects(provision(tpm), (e: unknown) => {
      assert.ok(e instanceof ProvisionError);
      assert.equal(e.code, 'PROVISION_FOREIGN_OBJECT');
      assert.equal(e.errorClass, 'environment');
      assert.match(e.message, /0x81008002/);
      assert.match(e.message, /Nothing was changed/);
      const d = (e.details!.handles as Array<{ handle: string; reason: string }>)[0]!;
      assert.equal(d.handle, '0x81008002');
      assert.match(d.reason, /attributes/);
      return true;
    });
    assert.deepEqual(await persistentHandles(), without, 'provisioning changed the TPM despite the foreign object');
    assert.equal((await tpm.readPublic(DEVICE_KEY_HANDLE)).name.toString('hex'), foreignName, 'the foreign object was touched');
    const st = await inspectHandles(tpm);
    assert.equal(st.find((s) => s.role === 'device')!.state, 'foreign');
    assert.ok(handles.length === without.length + 1);
    // Once the operator removes it, provisioning completes.
    await tpm.evictControl(TPM_RH.OWNER, DEVICE_KEY_HANDLE, DEVICE_KEY_HANDLE);
    const r = await provision(tpm);
    assert.deepEqual(r.keys.filter((k) => k.created).map((k) => k.role), ['ak', 'device']);
  });

  it('a quote signed by the AK or a device-key signature cannot pass as a certification', async () => {
    const r = await provision(tpm);
    const dev = await tpm.readPublic(DEVICE_KEY_HANDLE);
    const q = await quote(tpm, { akHandle: AK_HANDLE, nonce: Buffer.from('01', 'hex'), selection: parsePCRList('sha256:0') });
    assert.throws(() => verifyCertification({ ak: r.ak.public, attest: q.attestBytes, signature: q.signatureBytes, objectName: dev.name }),
      (e: unknown) => e instanceof ProvisionError && e.code === 'CERTIFY_WRONG_TYPE');
    const c = await certifyDeviceKey(tpm, { qualifyingData: Buffer.from('feedface', 'hex') });
    assert.throws(() => verifyCertification({ ak: r.deviceKey.public, attest: c.attestBytes, signature: c.signatureBytes, objectName: dev.name }),
      (e: unknown) => e instanceof ProvisionError && e.code === 'CERTIFY_SIGNATURE_INVALID' && e.errorClass === 'denied');
    assert.throws(() => verifyCertification({ ak: r.ak.public, attest: c.attestBytes, signature: c.signatureBytes, objectName: r.ak.name }),
      (e: unknown) => e instanceof ProvisionError && e.code === 'CERTIFY_NAME_MISMATCH');
    assert.throws(() => verifyCertification({ ak: r.ak.public, attest: c.attestBytes, signature: c.signatureBytes, objectName: dev.name, qualifyingData: Buffer.from('feedfacf', 'hex') }),
      (e: unknown) => e instanceof ProvisionError && e.code === 'CERTIFY_QUALIFYING_DATA_MISMATCH');
    // Every single-bit change of the certification or its signature is refused.
    const ok = { ak: r.ak.public, objectName: dev.name, qualifyingData: Buffer.from('feedface', 'hex') };
    let n = 0;
    for (const f of bitFlips(c.attestBytes)) {
      assert.throws(() => verifyCertification({ ...ok, attest: f.bytes, signature: c.signatureBytes }), (e: unknown) => e instanceof ProvisionError && e.errorClass === 'denied', `attest bit ${f.at}.${f.bit}`);
      n++;
    }
    for (const f of bitFlips(c.signatureBytes)) {
      assert.throws(() => verifyCertification({ ...ok, attest: c.attestBytes, signature: f.bytes }), (e: unknown) => e instanceof ProvisionError && e.errorClass === 'denied', `signature bit ${f.at}.${f.bit}`);
      n++;
    }
    assert.equal(n, 8 * (c.attestBytes.length + c.signatureBytes.length));
    verifyCertification({ ...ok, attest: c.attestBytes, signature: c.signatureBytes });
  });

  it('accepts a device key with the NULL scheme as ours and certifies it', async () => {
    await tpm.evictControl(TPM_RH.OWNER, DEVICE_KEY_HANDLE, DEVICE_KEY_HANDLE);
    await tpm.withTransient(async () => {
      const c = await tpm.create(SRK_HANDLE, deviceKeyTemplate({ nullScheme: true }));
      const h = (await tpm.load(SRK_HANDLE, c.outPrivate, c.outPublic)).handle;
      await tpm.evictControl(TPM_RH.OWNER, h, DEVICE_KEY_HANDLE);
    });
    assert.equal((await inspectHandles(tpm, ['device']))[0]!.state, 'ours');
    const r = await provision(tpm);
    assert.equal(r.changed, false);
    assert.equal((r.deviceKey.public.parameters as { scheme: { scheme: number } }).scheme.scheme, TPM_ALG.NULL);
    assert.equal(publicKeyOf(r.deviceKey.public).type, 'ecc');
  });
});

describe('EK certificates', () => {
  const caBundle = () => parseCABundle(readFileSync(join(sw.caDir, 'issuercert.pem'), 'utf8') + readFileSync(join(sw.caDir, 'swtpm-localca-rootca-cert.pem'), 'utf8'));

  it('are read from NV (low and high range) and chain to the swtpm-localca CA', async () => {
    const { certificates, problems } = await readEKCertificates(tpm);
    assert.deepEqual(problems, []);
    assert.deepEqual(certificates.map((c) => [hex32(c.index), c.keyType, c.range]), [['0x01c00002', 'rsa-2048', 'low'], ['0x01c00016', 'ecc-p384', 'high']]);
    for (const c of certificates) {
      assert.equal(c.issuer, 'CN=swtpm-localca');
      const chain = verifyEKCertChain(c, caBundle());
      assert.deepEqual(chain.map((x) => x.subject), [c.subject, 'CN=swtpm-localca', 'CN=swtpm-localca-rootca']);
    }
  });

  it('the RSA certificate certifies exactly the RSA EK made from our template', async () => {
    const r = await provision(tpm);
    const { certificates } = await readEKCertificates(tpm);
    const rsa = certificates.find((c) => c.keyType === 'rsa-2048')!;
    const ekRsa = r.keys.find((k) => k.role === 'ek-rsa')!;
    const ekEcc = r.keys.find((k) => k.role === 'ek-ecc')!;
    assert.equal(ekCertMatches(rsa, ekRsa.public), true);
    assert.equal(ekCertMatches(rsa, ekEcc.public), false);
    assert.equal(ekCertMatches(certificates.find((c) => c.keyType === 'ecc-p384')!, ekEcc.public), false);
    // Re-creating the EK from the template in the TPM gives the same key the persisted one has.
    await tpm.withTransient(async () => {
      const p = await tpm.createPrimary(TPM_RH.ENDORSEMENT, ekRSATemplate());
      assert.equal(p.name.toString('hex'), ekRsa.name.toString('hex'));
    });
    assert.equal(PERSISTENT_HANDLES['ek-rsa'], 0x81010001);
  });

  it('do not chain to a wrong CA, an incomplete bundle, or outside their validity', async () => {
    const { certificates } = await readEKCertificates(tpm);
    const leaf = certificates[0]!;
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-ca-'));
    try {
      // A CA with the same name as the real issuer but another key.
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=swtpm-localca',
        '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'ca.pem'), '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
      const impostor = parseCABundle(readFileSync(join(dir, 'ca.pem'), 'utf8'));
      assert.throws(() => verifyEKCertChain(leaf, impostor), (e: unknown) => e instanceof EKCertError && e.code === 'EK_CERT_CHAIN_INVALID' && e.errorClass === 'denied');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const rootOnly = parseCABundle(readFileSync(join(sw.caDir, 'swtpm-localca-rootca-cert.pem'), 'utf8'));
    assert.throws(() => verifyEKCertChain(leaf, rootOnly), (e: unknown) => e instanceof EKCertError && e.code === 'EK_CERT_CHAIN_INVALID');
    assert.throws(() => verifyEKCertChain(leaf, caBundle(), new Date('2001-01-01T00:00:00Z')), /not valid at 2001/);
    // The leaf itself is no CA: a bundle holding only the leaf cannot issue it.
    assert.throws(() => verifyEKCertChain(leaf, [new X509Certificate(certificates[1]!.der)]), (e: unknown) => e instanceof EKCertError);
  });
});

// The EK chain on a real (software) TPM: swtpm's EK certificates validate against its
// swtpm-localca CA given as an operator bundle, and against the same CA's intermediate stored in
// the TCG EK chain NV range (0x01c00100–0x01c001ff, concatenated DER plus padding) with only the
// root in the store; the built-in vendor store does not know swtpm-localca.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openTPM, TPMA_NV, hex32, type TPM } from '../../hardware/index.ts';
import { readEKCertificates, EK_CHAIN_NV_FIRST } from '../../hardware/ekcert.ts';
import { EKChainError, pemCertificates, verifyEKChain } from '../../hardware/x509/index.ts';
import { builtinEKRootStore, loadEKRootStore } from '../../attest/ekroots/index.ts';
import { makeRoot } from '../fixtures/ekcerts.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { closeSuite } from './helpers.ts';

let sw: Swtpm;
let tpm: TPM;

before(async () => {
  sw = await startSwtpm();
  tpm = await openTPM(sw.uri);
});

after(() => closeSuite(sw, tpm));

const ISSUER = () => join(sw.caDir, 'issuercert.pem');
const ROOT = () => join(sw.caDir, 'swtpm-localca-rootca-cert.pem');
const der = (pemFile: string): Buffer => pemCertificates(readFileSync(pemFile, 'utf8'))[0]!;
const ATTRS = TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA;

async function writeIndex(index: number, data: Buffer): Promise<void> {
  await tpm.nvDefineSpace({ nvIndex: index, dataSize: data.length, attributes: ATTRS });
  await tpm.nvWrite(index, data);
}

describe('EK chain (swtpm)', () => {
  it('swtpm\'s RSA and P-384 EK certificates validate against swtpm-localca added as an operator CA bundle, not against the vendor store alone', async () => {
    const { certificates, intermediates } = await readEKCertificates(tpm);
    assert.deepEqual(intermediates, []);
    assert.equal(certificates.length, 2);
    const store = loadEKRootStore(undefined, [ISSUER(), ROOT()]);
    assert.equal(store.size, builtinEKRootStore().size + 2);
    for (const c of certificates) {
      const r = verifyEKChain(c.der, [], store);
      assert.deepEqual(r.path.map((x) => x.subject.text), [c.subject, 'CN=swtpm-localca', 'CN=swtpm-localca-rootca']);
      assert.match(r.anchor.source, /^operator:.*issuercert\.pem$/);
      assert.equal(r.tpm?.manufacturer, 'id:00001014');
      assert.deepEqual(r.vendor, { id: '00001014', name: 'IBM (swtpm)' });
      assert.throws(() => verifyEKChain(c.der, [], builtinEKRootStore()), (e: unknown) => e instanceof EKChainError && e.code === 'EK_CHAIN_NO_ISSUER' && e.errorClass === 'denied');
    }
  });

  it('reads intermediates from the EK chain NV indexes (several concatenated DER per index, then padding) and chains through them to a root-only store', async () => {
    const issuer = der(ISSUER());
    const other = makeRoot('Unrelated CA in the same index').der;
    const first = EK_CHAIN_NV_FIRST;
    try {
      await writeIndex(first, Buffer.concat([issuer, other, Buffer.alloc(24, 0xff)]));
      await writeIndex(first + 1, Buffer.concat([der(ROOT()), Buffer.alloc(8, 0x00)]));
      const { certificates, intermediates, problems } = await readEKCertificates(tpm);
      assert.deepEqual(problems, []);
      assert.deepEqual(intermediates.map((i) => [hex32(i.index), i.x509.subject.text]), [
        ['0x01c00100', 'CN=swtpm-localca'], ['0x01c00100', 'C=CH, O=Tollgate Test TPM Vendor, CN=Unrelated CA in the same index'], ['0x01c00101', 'CN=swtpm-localca-rootca'],
      ]);
      assert.ok(intermediates[0]!.der.equals(issuer));
      const rootOnly = loadEKRootStore(undefined, [ROOT()]);
      for (const c of certificates) {
        // Without the NV intermediates the issuer is unknown; with them the path runs through NV to the store's root.
        assert.throws(() => verifyEKChain(c.der, [], rootOnly), (e: unknown) => e instanceof EKChainError && e.code === 'EK_CHAIN_NO_ISSUER');
        const r = verifyEKChain(c.der, intermediates.map((i) => i.der), rootOnly);
        assert.deepEqual(r.links.map((l) => [l.from, l.cert.subject.text]), [['leaf', c.subject], ['intermediate', 'CN=swtpm-localca'], ['store', 'CN=swtpm-localca-rootca']]);
      }
    } finally {
      for (const i of [first, first + 1]) await tpm.nvUndefineSpace(i).catch(() => undefined);
    }
  });

  it('a chain index holding garbage is reported as a problem; the EK certificates are still read', async () => {
    const index = EK_CHAIN_NV_FIRST + 0x42;
    try {
      await writeIndex(index, Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), Buffer.alloc(60, 0xab)]));
      const r = await readEKCertificates(tpm);
      assert.equal(r.certificates.length, 2);
      assert.deepEqual(r.intermediates, []);
      assert.deepEqual(r.problems.map((p) => [hex32(p.index), p.code]), [['0x01c00142', 'EK_CERT_MALFORMED']]);
    } finally {
      await tpm.nvUndefineSpace(index).catch(() => undefined);
    }
  });
});

// TPM2_NV_Certify of the ledger index by the AK: our verifier accepts what the TPM signs and names
// every way a certification can be wrong; and both ways with tpm2-tools on the same swtpm:
// tpm2_nvcertify's output passes our verifier, and tpm2_verifysignature (the TPM itself) accepts
// our certification's signature over its TPMS_ATTEST. Our connection is closed whenever a tool runs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { withTPM, tool, mustTool, flushToolLeftovers, endSuite } from '../tpm/helpers.ts';
import {
  provision, requireAK, certifyLedgerIndex, verifyNVCertify, NVCertifyError, ledgerIndexName, readLedgerIndex, quote, parsePCRList,
  publicKeyOf, publicPem, fromPem, parseSignature, LEDGER_NV_INDEX, DEVICE_KEY_HANDLE, hex32, type TPMTPublic,
} from '../../hardware/index.ts';
import { Ledger, appendDecision } from '../../agent/ledger/index.ts';

let sw: Swtpm;
let dir: string;
let ak: TPMTPublic;
let head: string;

before(async () => {
  sw = await startSwtpm({ ek: false });
  dir = mkdtempSync(join(tmpdir(), 'tg-ledger-certify-'));
  await withTPM(sw, async (tpm) => {
    await provision(tpm, { eks: [] });
    ak = (await requireAK(tpm)).public;
    const l = await Ledger.open({ stateRoot: join(dir, 'state'), tpm });
    await appendDecision(l, 'boot', { version: 'test' });
    head = l.state().nv;
    await l.close();
  });
});

after(() => endSuite(sw, dir));

function rejects(code: string) {
  return (e: unknown) => e instanceof NVCertifyError && e.code === code && e.exitCode === 1;
}

describe('NV_Certify of the ledger index', () => {
  it('is verified with the AK public key (TPMT_PUBLIC or PEM), nonce, index Name and the replayed head', async () => {
    const nonce = Buffer.alloc(32, 0x5a);
    const c = await withTPM(sw, (tpm) => certifyLedgerIndex(tpm, nonce));
    assert.equal(c.contents.toString('hex'), head);
    assert.equal(c.indexName.toString('hex'), ledgerIndexName(LEDGER_NV_INDEX, true).toString('hex'));
    for (const key of [ak, publicKeyOf(ak), fromPem(publicPem(ak))]) {
      const v = verifyNVCertify({ ak: key, attest: c.attestBytes, signature: c.signatureBytes, nonce, indexName: c.indexName, contents: Buffer.from(head, 'hex') });
      assert.equal(v.info.offset, 0);
      assert.equal(v.contents.toString('hex'), head);
    }
  });

  it('names each way a certification is wrong', async () => {
    const nonce = Buffer.alloc(16, 1);
    const { c, q, devSig } = await withTPM(sw, async (tpm) => ({
      c: await certifyLedgerIndex(tpm, nonce),
      q: await quote(tpm, { akHandle: 0x81008001, nonce, selection: parsePCRList('sha256:0') }),
      devSig: await tpm.sign(DEVICE_KEY_HANDLE, Buffer.alloc(32, 7)),
    }));
    const good = { ak, attest: c.attestBytes, signature: c.signatureBytes, nonce, indexName: c.indexName, contents: c.contents };
    assert.ok(verifyNVCertify(good));
    const flipped = Buffer.from(c.attestBytes);
    flipped[flipped.length - 1]! ^= 1;
    assert.throws(() => verifyNVCertify({ ...good, attest: flipped }), rejects('NV_CERTIFY_SIGNATURE_INVALID'));
    assert.throws(() => verifyNVCertify({ ...good, signature: devSig }), rejects('NV_CERTIFY_SIGNATURE_INVALID'));
    assert.throws(() => verifyNVCertify({ ...good, attest: Buffer.from('not an attestation') }), rejects('NV_CERTIFY_MALFORMED'));
    assert.throws(() => verifyNVCertify({ ...good, signature: Buffer.from([0, 0x18]) }), rejects('NV_CERTIFY_MALFORMED'));
    assert.throws(() => verifyNVCertify({ ...good, attest: q.attestBytes, signature: q.signatureBytes }), rejects('NV_CERTIFY_WRONG_TYPE'));
    assert.throws(() => verifyNVCertify({ ...good, nonce: Buffer.alloc(16, 2) }), rejects('NV_CERTIFY_NONCE_MISMATCH'));
    assert.throws(() => verifyNVCertify({ ...good, indexName: ledgerIndexName(LEDGER_NV_INDEX, false) }), rejects('NV_CERTIFY_INDEX_MISMATCH'));
    assert.throws(() => verifyNVCertify({ ...good, indexName: ledgerIndexName(LEDGER_NV_INDEX + 1, true) }), rejects('NV_CERTIFY_INDEX_MISMATCH'));
    assert.throws(() => verifyNVCertify({ ...good, contents: Buffer.alloc(32) }), rejects('NV_CERTIFY_CONTENTS_MISMATCH'));
    assert.throws(() => verifyNVCertify({ ...good, offset: 4 }), rejects('NV_CERTIFY_CONTENTS_MISMATCH'));
  });

  it('tpm2_nvcertify output passes our verifier', async (t) => {
    t.after(() => flushToolLeftovers(sw));
    const nonce = Buffer.from('c0ffee00'.repeat(4), 'hex');
    mustTool(sw, 'tpm2_nvcertify', ['-C', hex32(0x81008001), '-g', 'sha256', '-o', join(dir, 'their.sig'), '--attestation', join(dir, 'their.msg'),
      '-q', nonce.toString('hex'), '--size', '32', '--offset', '0', '-c', hex32(LEDGER_NV_INDEX), hex32(LEDGER_NV_INDEX)]);
    const v = verifyNVCertify({ ak, attest: readFileSync(join(dir, 'their.msg')), signature: readFileSync(join(dir, 'their.sig')), nonce, indexName: ledgerIndexName(LEDGER_NV_INDEX, true), contents: Buffer.from(head, 'hex') });
    assert.equal(v.contents.toString('hex'), head);
    assert.equal((await withTPM(sw, (tpm) => readLedgerIndex(tpm))).value.toString('hex'), head);
  });

  it('tpm2_verifysignature accepts our certification, and refuses it altered', async (t) => {
    t.after(() => flushToolLeftovers(sw));
    const c = await withTPM(sw, (tpm) => certifyLedgerIndex(tpm, Buffer.alloc(32, 9)));
    writeFileSync(join(dir, 'our.msg'), c.attestBytes);
    writeFileSync(join(dir, 'our.sig'), c.signatureBytes);
    assert.equal(parseSignature(c.signatureBytes).sigAlg, 0x0018, 'ECDSA');
    mustTool(sw, 'tpm2_verifysignature', ['-c', hex32(0x81008001), '-g', 'sha256', '-m', join(dir, 'our.msg'), '-s', join(dir, 'our.sig')]);
    flushToolLeftovers(sw);
    const altered = Buffer.from(c.attestBytes);
    altered[altered.length - 1]! ^= 1;
    writeFileSync(join(dir, 'altered.msg'), altered);
    const r = tool(sw, 'tpm2_verifysignature', ['-c', hex32(0x81008001), '-g', 'sha256', '-m', join(dir, 'altered.msg'), '-s', join(dir, 'our.sig')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /signature is not valid/);
  });
});

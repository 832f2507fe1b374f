// Quotes against a real swtpm and their pure-TypeScript verification: the round trip and every
// refusal (wrong nonce, wrong PCR values, wrong selection, wrong key, each flipped bit).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { openTPM, TPM_ALG, TollgateError, crypto, type TPM } from '../../hardware/index.ts';
import { provision, AK_HANDLE } from '../../hardware/provision.ts';
import { quote, verifyQuote, maxNonce, QuoteError, type QuoteResult } from '../../hardware/quote.ts';
import { parsePCRList, encodeSerializedPCRs, parseSerializedPCRs } from '../../hardware/tpm2tools.ts';
import { publicKeyOf } from '../../hardware/keys.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { bitFlips, closeSuite } from './helpers.ts';

let sw: Swtpm;
let tpm: TPM;
let ak: ReturnType<typeof publicKeyOf>;
let deviceKey: ReturnType<typeof publicKeyOf>;

before(async () => {
  sw = await startSwtpm();
  tpm = await openTPM(sw.uri);
  const r = await provision(tpm, { eks: [] });
  ak = publicKeyOf(r.ak.public);
  deviceKey = publicKeyOf(r.deviceKey.public);
});

after(() => closeSuite(sw, tpm));

const SEL = 'sha256:0,1,2,3,4,5,6,7,16+sha1:0,16';

function quoteErr(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof QuoteError, `expected QuoteError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.errorClass, code === 'QUOTE_NONCE_INVALID' || code === 'QUOTE_PCRS_INVALID' ? 'usage' : 'denied');
    return true;
  };
}

function check(q: QuoteResult, over: Partial<Parameters<typeof verifyQuote>[0]> = {}) {
  return verifyQuote({ ak, attest: q.attestBytes, signature: q.signatureBytes, nonce: q.nonce, pcrs: q.pcrs, ...over });
}

describe('quote and verify', () => {
  it('round-trips over two banks, through the tpm2-tools PCR file too', async () => {
    const nonce = Buffer.from(createHash('sha256').update('n1').digest());
    const q = await quote(tpm, { akHandle: AK_HANDLE, nonce, selection: parsePCRList(SEL) });
    assert.equal(q.pcrs.length, 11);
    const v = check(q);
    assert.equal(v.hashAlg, TPM_ALG.SHA256);
    assert.deepEqual(Buffer.from(v.attest.extraData), nonce);
    const file = parseSerializedPCRs(encodeSerializedPCRs(q.selection, q.pcrs));
    check(q, { pcrs: file.values, selection: file.selection });
    // PCR values may be given in any order; the quote's selection decides the digest order.
    check(q, { pcrs: [...q.pcrs].reverse() });
  });

  it('covers PCR changes: old values no longer verify against a new quote', async () => {
    const nonce = Buffer.from('aa'.repeat(20), 'hex');
    const q1 = await quote(tpm, { akHandle: AK_HANDLE, nonce, selection: parsePCRList(SEL) });
    await tpm.pcrExtend(16, [{ hashAlg: TPM_ALG.SHA256, digest: createHash('sha256').update('event').digest() }, { hashAlg: TPM_ALG.SHA1, digest: createHash('sha1').update('event').digest() }]);
    const q2 = await quote(tpm, { akHandle: AK_HANDLE, nonce, selection: parsePCRList(SEL) });
    check(q2);
    assert.throws(() => check(q2, { pcrs: q1.pcrs }), quoteErr('QUOTE_PCR_DIGEST_MISMATCH'));
    assert.throws(() => check(q1, { pcrs: q2.pcrs }), quoteErr('QUOTE_PCR_DIGEST_MISMATCH'));
  });

  it('refuses a wrong nonce', async () => {
    const q = await quote(tpm, { akHandle: AK_HANDLE, nonce: Buffer.from('0102', 'hex'), selection: parsePCRList('sha256:0') });
    assert.throws(() => check(q, { nonce: Buffer.from('0103', 'hex') }), quoteErr('QUOTE_NONCE_MISMATCH'));
    assert.throws(() => check(q, { nonce: Buffer.from('010200', 'hex') }), quoteErr('QUOTE_NONCE_MISMATCH'));
    assert.throws(() => check(q, { nonce: Buffer.alloc(0) }), quoteErr('QUOTE_NONCE_MISMATCH'));
  });

  it('refuses PCR values for another selection, and altered values', async () => {
    const q = await quote(tpm, { akHandle: AK_HANDLE, nonce: Buffer.from('03', 'hex'), selection: parsePCRList(SEL) });
    assert.throws(() => check(q, { pcrs: q.pcrs.slice(1) }), quoteErr('QUOTE_PCR_SELECTION_MISMATCH'));
    assert.throws(() => check(q, { pcrs: [...q.pcrs, { hash: TPM_ALG.SHA256, pcr: 23, digest: Buffer.alloc(32) }] }), quoteErr('QUOTE_PCR_SELECTION_MISMATCH'));
    assert.throws(() => check(q, { selection: parsePCRList('sha256:0,1,2,3,4,5,6,7,16') }), quoteErr('QUOTE_PCR_SELECTION_MISMATCH'));
    assert.throws(() => check(q, { selection: parsePCRList('sha1:0,16+sha256:0,1,2,3,4,5,6,7,16') }), quoteErr('QUOTE_PCR_SELECTION_MISMATCH'));
    for (let i = 0; i < q.pcrs.length; i++) {
      const pcrs = q.pcrs.map((p, k) => (k === i ? { ...p, digest: Buffer.from(p.digest).fill(0x5a, 0, 1) } : p));
      assert.throws(() => check(q, { pcrs }), quoteErr('QUOTE_PCR_DIGEST_MISMATCH'));
    }
    // sha256:16 was extended above while sha256:0 is still zero: swap their values.
    assert.ok(!q.pcrs[0]!.digest.equals(q.pcrs[8]!.digest));
    const swapped = q.pcrs.map((p, k) => ({ ...p, digest: q.pcrs[k === 0 ? 8 : k === 8 ? 0 : k]!.digest }));
    assert.throws(() => check(q, { pcrs: swapped }), quoteErr('QUOTE_PCR_DIGEST_MISMATCH'));
  });

  it('refuses another key: the device key, a fresh P-256 key, an RSA key', async () => {
    const q = await quote(tpm, { akHandle: AK_HANDLE, nonce: Buffer.from('04', 'hex'), selection: parsePCRList('sha256:0,1') });
    assert.throws(() => check(q, { ak: deviceKey }), quoteErr('QUOTE_SIGNATURE_INVALID'));
    assert.throws(() => check(q, { ak: crypto.fromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey) }), quoteErr('QUOTE_SIGNATURE_INVALID'));
    assert.throws(() => check(q, { ak: crypto.fromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey) }), quoteErr('QUOTE_SIGNATURE_INVALID'));
    assert.throws(() => check(q, { ak: crypto.fromKeyObject(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey) }), quoteErr('QUOTE_KEY_MISMATCH'));
  });

  it('refuses every single flipped bit of the attestation and of the signature', async () => {
    const q = await quote(tpm, { akHandle: AK_HANDLE, nonce: Buffer.from('05'.repeat(32), 'hex'), selection: parsePCRList(SEL) });
    const seen = new Set<string>();
    let n = 0;
    for (const f of bitFlips(q.attestBytes)) {
      assert.throws(() => check(q, { attest: f.bytes }), (e: unknown) => {
        assert.ok(e instanceof QuoteError && e.errorClass === 'denied', `attest byte ${f.at} bit ${f.bit}: ${String(e)}`);
        seen.add(e.code);
        return true;
      });
      n++;
    }
    for (const f of bitFlips(q.signatureBytes)) {
      assert.throws(() => check(q, { signature: f.bytes }), (e: unknown) => {
        assert.ok(e instanceof QuoteError && e.errorClass === 'denied', `signature byte ${f.at} bit ${f.bit}: ${String(e)}`);
        seen.add(e.code);
        return true;
      });
      n++;
    }
    assert.equal(n, 8 * (q.attestBytes.length + q.signatureBytes.length));
    // The specific checks each fire somewhere in the sweep.
    for (const code of ['QUOTE_BAD_MAGIC', 'QUOTE_MALFORMED', 'QUOTE_SIGNATURE_INVALID', 'QUOTE_SIGNATURE_MALFORMED', 'QUOTE_SIGNATURE_UNSUPPORTED']) assert.ok(seen.has(code), `no flip produced ${code}`);
    check(q);
  });

  it('takes nonces up to the TPM limit and refuses the rest before signing', async () => {
    assert.equal(await maxNonce(tpm), 64);
    const big = Buffer.alloc(64, 7);
    check(await quote(tpm, { akHandle: AK_HANDLE, nonce: big, selection: parsePCRList('sha256:0') }));
    await assert.rejects(quote(tpm, { akHandle: AK_HANDLE, nonce: Buffer.alloc(65), selection: parsePCRList('sha256:0') }), quoteErr('QUOTE_NONCE_INVALID'));
    await assert.rejects(quote(tpm, { akHandle: AK_HANDLE, nonce: Buffer.alloc(0), selection: parsePCRList('sha256:0') }), quoteErr('QUOTE_NONCE_INVALID'));
    await assert.rejects(quote(tpm, { akHandle: AK_HANDLE, nonce: big, selection: [] }), quoteErr('QUOTE_PCRS_INVALID'));
  });

  it('reports a bank the TPM does not have as a usage error', async () => {
    await assert.rejects(quote(tpm, { akHandle: AK_HANDLE, nonce: Buffer.from('06', 'hex'), selection: parsePCRList('sha384:0') }),
      (e: unknown) => e instanceof TollgateError && e.errorClass === 'usage' && /not available/.test(e.message));
  });
});

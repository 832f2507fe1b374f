// Interop with tpm2-tools on the same swtpm, both ways: tpm2_checkquote on our quote files, our
// verifier on tpm2_quote's output (ECC, RSASSA and RSAPSS AKs from tpm2_createak), and our EK
// templates giving the EKs tpm2_createek makes. Our connection is closed whenever a tool runs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TPM_ALG } from '../../hardware/index.ts';
import { provision, AK_HANDLE } from '../../hardware/provision.ts';
import { quote, verifyQuote, QuoteError } from '../../hardware/quote.ts';
import { parsePCRList, encodeSerializedPCRs, parseSerializedPCRs, parseAttestFile, parsePublicFile, formatPCRList } from '../../hardware/tpm2tools.ts';
import { publicName, publicPem } from '../../hardware/keys.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { withTPM, tool, mustTool, flushToolLeftovers, endSuite } from './helpers.ts';

let sw: Swtpm;
let dir: string;
let ekNames: Record<string, string>;

before(async () => {
  sw = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-interop-'));
  ekNames = await withTPM(sw, async (tpm) => {
    const r = await provision(tpm);
    return Object.fromEntries(r.keys.map((k) => [k.role, k.name.toString('hex')]));
  });
});

after(() => endSuite(sw, dir));

describe('interop with tpm2-tools', () => {
  it('our EK templates give the EKs tpm2_createek makes (RSA-2048 and ECC P-256)', (t) => {
    t.after(() => flushToolLeftovers(sw));
    for (const [alg, role] of [['rsa', 'ek-rsa'], ['ecc', 'ek-ecc']] as const) {
      mustTool(sw, 'tpm2_createek', ['-c', join(dir, `ek-${alg}.ctx`), '-G', alg, '-u', join(dir, `ek-${alg}.pub`)]);
      const pub = parsePublicFile(readFileSync(join(dir, `ek-${alg}.pub`))).public!;
      assert.equal(Buffer.from(publicName(pub)).toString('hex'), ekNames[role], `${alg} EK Name differs from tpm2_createek's`);
      flushToolLeftovers(sw);
    }
  });

  it('tpm2_checkquote accepts our quote files, and refuses another nonce or altered PCRs', async () => {
    const nonce = Buffer.from('c0ffee'.repeat(8), 'hex');
    const out = join(dir, 'ours');
    const sel = 'sha256:0,1,2,3,4,5,6,7,16+sha1:0';
    await withTPM(sw, async (tpm) => {
      mkdirSync(out, { recursive: true });
      const q = await quote(tpm, { akHandle: AK_HANDLE, nonce, selection: parsePCRList(sel) });
      writeFileSync(join(out, 'quote.msg'), q.attestBytes);
      writeFileSync(join(out, 'quote.sig'), q.signatureBytes);
      writeFileSync(join(out, 'quote.pcrs'), encodeSerializedPCRs(q.selection, q.pcrs));
      const pcrs = q.pcrs.map((p) => (p.pcr === 16 && p.hash === TPM_ALG.SHA256 ? { ...p, digest: Buffer.alloc(32, 1) } : p));
      writeFileSync(join(out, 'altered.pcrs'), encodeSerializedPCRs(q.selection, pcrs));
      writeFileSync(join(out, 'ak.pub.pem'), publicPem((await tpm.readPublic(AK_HANDLE)).outPublic));
    });
    const args = (n: string, pcrs = 'quote.pcrs') => ['-u', join(out, 'ak.pub.pem'), '-m', join(out, 'quote.msg'), '-s', join(out, 'quote.sig'), '-f', join(out, pcrs), '-g', 'sha256', '-q', n];
    const ok = tool(sw, 'tpm2_checkquote', args(nonce.toString('hex')));
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /sha256:\s+0 :/);
    assert.notEqual(tool(sw, 'tpm2_checkquote', args('c0ffee')).status, 0, 'tpm2_checkquote accepted another nonce');
    assert.notEqual(tool(sw, 'tpm2_checkquote', args(nonce.toString('hex'), 'altered.pcrs')).status, 0, 'tpm2_checkquote accepted altered PCRs');
  });

  for (const [name, createArgs, pubFormat, scheme] of [
    ['ECC P-256 / ECDSA', ['-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa'], 'tss', 'ecdsa'],
    ['RSA-2048 / RSASSA', ['-G', 'rsa', '-g', 'sha256', '-s', 'rsassa'], 'pem', 'rsassa'],
    ['RSA-2048 / RSAPSS', ['-G', 'rsa', '-g', 'sha256', '-s', 'rsapss'], 'pem', 'rsapss'],
  ] as const) {
    it(`our verifier accepts tpm2_quote output from a tpm2_createak ${name} AK, and refuses another nonce`, (t) => {
      t.after(() => flushToolLeftovers(sw)); // also when a tool step fails midway
      const d = mkdtempSync(join(dir, 'tools-'));
      const f = (n: string) => join(d, n);
      // Without a resource manager every tool leaves its objects loaded (swtpm has 3 slots): the
      // context files stay loadable, so flush after each tool.
      mustTool(sw, 'tpm2_createek', ['-c', f('ek.ctx'), '-G', 'rsa']);
      flushToolLeftovers(sw);
      mustTool(sw, 'tpm2_createak', ['-C', f('ek.ctx'), '-c', f('ak.ctx'), ...createArgs, '-u', f('ak.pub'), '-f', pubFormat, '-n', f('ak.name')]);
      flushToolLeftovers(sw);
      const nonce = 'abcdef0123456789';
      mustTool(sw, 'tpm2_quote', ['-c', f('ak.ctx'), '-l', 'sha256:0,1,2,3,16,23+sha1:0,7', '-q', nonce, '-m', f('q.msg'), '-s', f('q.sig'), '-o', f('q.pcrs'), '-g', 'sha256', `--scheme=${scheme}`]);
      flushToolLeftovers(sw);
      const ak = parsePublicFile(readFileSync(f('ak.pub'))).key;
      assert.equal(ak.type, name.startsWith('ECC') ? 'ecc' : 'rsa');
      const pcrs = parseSerializedPCRs(readFileSync(f('q.pcrs')));
      assert.equal(formatPCRList(pcrs.selection), 'sha256:0,1,2,3,16,23+sha1:0,7');
      const input = { ak, attest: readFileSync(f('q.msg')), signature: readFileSync(f('q.sig')), nonce: Buffer.from(nonce, 'hex'), pcrs: pcrs.values, selection: pcrs.selection };
      const v = verifyQuote(input);
      assert.equal(v.signature.sigAlg, name.includes('ECDSA') ? TPM_ALG.ECDSA : name.includes('PSS') ? TPM_ALG.RSAPSS : TPM_ALG.RSASSA);
      assert.equal(parseAttestFile(input.attest).type, 0x8018);
      assert.throws(() => verifyQuote({ ...input, nonce: Buffer.from('abcdef0123456788', 'hex') }), (e: unknown) => e instanceof QuoteError && e.code === 'QUOTE_NONCE_MISMATCH');
      const altered = pcrs.values.map((p, i) => (i === 0 ? { ...p, digest: Buffer.alloc(p.digest.length, 9) } : p));
      assert.throws(() => verifyQuote({ ...input, pcrs: altered }), (e: unknown) => e instanceof QuoteError && e.code === 'QUOTE_PCR_DIGEST_MISMATCH');
    });
  }
});

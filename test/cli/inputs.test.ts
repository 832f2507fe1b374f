// Hostile input files through the single binary, as an attacker or a careless operator would name
// them: /dev/zero and a FIFO for every option that names a file (refused at once with a typed error,
// exit 2, never read to the end or blocked on), every input cap (a file of exactly the cap is read,
// one byte more is refused with an error naming the cap), and the evidence caps (JSON Lines items,
// JSON values) that keep memory and time bounded.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryPresent, describeRun, runAll, tollgate, type BinRun } from './binary-harness.ts';
import { cyclonedx } from '../fixtures/sbom/sbom.ts';
import { osvRecord, openvex, range } from '../fixtures/sbom/osv.ts';
import { GITHUB_ISSUER, SigstoreTestbed, WORKFLOW } from '../fixtures/attest/sigstore.ts';

const MiB = 1024 * 1024;
let dir = '';
const p = (name: string): string => join(dir, name);
const fifo = (): string => p('fifo');

/** Writes `text` followed by spaces to exactly `size` bytes (still the same JSON document). */
function padded(name: string, text: string, size: number): string {
  const head = Buffer.from(text);
  assert.ok(head.length <= size);
  const fd = openSync(p(name), 'w');
  try {
    writeSync(fd, head);
    writeSync(fd, Buffer.alloc(size - head.length, 0x20));
  } finally {
    closeSync(fd);
  }
  return p(name);
}

/** A sparse file of `size` bytes: refused by its size before a byte of it is read. */
function sparse(name: string, size: number): string {
  writeFileSync(p(name), '');
  truncateSync(p(name), size);
  return p(name);
}

const check = (r: BinRun, id: string) => (r.json?.checks as Array<{ id: string; status: string; reason: string; details?: Record<string, unknown> }> | undefined)?.find((c) => c.id === id);
const errorCode = (r: BinRun): string | undefined => r.json?.error?.code;

const ak = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const tb = new SigstoreTestbed();
const ART = Buffer.from('widget 2.0 release');
const SBOM = JSON.stringify(cyclonedx({ version: '1.6', components: [{ name: 'left-pad', version: '1.3.0', purl: 'pkg:npm/left-pad@1.3.0' }] }));
const OSV = JSON.stringify(osvRecord({ id: 'GHSA-0000-0000-0000', affected: [{ ecosystem: 'npm', name: 'other', ranges: [range('SEMVER', ['introduced', '0'])] }] }));
const VULN_POLICY = JSON.stringify({ version: 1, vulnerabilities: { maxSeverity: 'critical' } });
const ENVELOPE = JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: Buffer.from('{}').toString('base64'), signatures: [{ sig: Buffer.alloc(64, 1).toString('base64') }] });

before(() => {
  assert.ok(binaryPresent(), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
  dir = mkdtempSync(join(tmpdir(), 'tg-inputs-'));
  const mk = spawnSync('mkfifo', [fifo()]);
  assert.equal(mk.status, 0, `mkfifo: ${mk.stderr}`);
  writeFileSync(p('art'), ART);
  writeFileSync(p('sbom.json'), SBOM);
  writeFileSync(p('vpolicy.json'), VULN_POLICY);
  writeFileSync(p('ak.pem'), ak);
  writeFileSync(p('junk'), Buffer.alloc(64, 7));
  writeFileSync(p('trusted_root.json'), JSON.stringify(tb.trustedRoot()));
  writeFileSync(p('bundle.json'), JSON.stringify(tb.bundle({ version: '0.3', content: { artifact: ART }, signer: { leaf: tb.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER }) } })));
  writeFileSync(p('idpolicy.json'), JSON.stringify({ version: 1, signatures: { threshold: 1, identities: [{ issuer: GITHUB_ISSUER, subject: WORKFLOW }] } }));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a FIFO or a device where a file belongs', () => {
  // Every option that names a file to read, with the rest of a command line that gets that far.
  const slots: Array<{ name: string; args: (bad: string) => string[]; code?: string; exit?: number }> = [
    { name: 'verify --sbom', args: (f) => ['verify', p('art'), '--sbom', f] },
    { name: 'verify --policy', args: (f) => ['verify', p('art'), '--policy', f] },
    { name: 'verify --attestation', args: (f) => ['verify', p('art'), '--attestation', f] },
    { name: 'verify --bundle', args: (f) => ['verify', p('art'), '--bundle', f] },
    { name: 'verify --osv', args: (f) => ['verify', p('art'), '--osv', f] },
    { name: 'verify --vex', args: (f) => ['verify', p('art'), '--vex', f] },
    { name: 'verify --key', args: (f) => ['verify', p('art'), '--key', f] },
    { name: 'verify --trusted-root', args: (f) => ['verify', p('art'), '--bundle', p('bundle.json'), '--policy', p('idpolicy.json'), '--trusted-root', f] },
    { name: 'verify FILE', args: (f) => ['verify', f, '--sbom', p('sbom.json')], code: 'ARTIFACT_NOT_A_FILE' },
    { name: 'conformance sigstore --bundle', args: (f) => ['conformance', 'sigstore', 'verify-bundle', '--bundle', f, '--key', p('ak.pem'), p('art')] },
    { name: 'init --root', args: (f) => ['init', '--repo', 'http://127.0.0.1:1/', '--root', f, '--state', p('state')] },
    { name: 'tpm verify-quote --ak', args: (f) => ['tpm', 'verify-quote', '--nonce', 'ab', '--ak', f, '--msg', p('junk'), '--sig', p('junk'), '--pcrs', p('junk')] },
    { name: 'tpm verify-quote --msg', args: (f) => ['tpm', 'verify-quote', '--nonce', 'ab', '--ak', p('ak.pem'), '--msg', f, '--sig', p('junk'), '--pcrs', p('junk')] },
    { name: 'tpm verify-quote --sig', args: (f) => ['tpm', 'verify-quote', '--nonce', 'ab', '--ak', p('ak.pem'), '--msg', p('junk'), '--sig', f, '--pcrs', p('junk')] },
    { name: 'tpm verify-quote --pcrs', args: (f) => ['tpm', 'verify-quote', '--nonce', 'ab', '--ak', p('ak.pem'), '--msg', p('junk'), '--sig', p('junk'), '--pcrs', f] },
    { name: 'tpm info --ca', args: (f) => ['tpm', 'info', '--ca', f] },
    // The conformance protocol allows only exit 0 and 1; the error code is still printed.
    { name: 'conformance tuf init', args: (f) => ['conformance', 'tuf', '--metadata-dir', p('md'), 'init', f], exit: 1 },
  ];

  for (const [what, file, kind] of [['/dev/zero', () => '/dev/zero', /character device/], ['a FIFO', fifo, /FIFO/]] as const) {
    it(`${what}: every file option answers at once with a typed error and exit 2`, async () => {
      const runs = await runAll(slots.map((s) => ({ args: [...s.args(file()), '--json'], cwd: dir })));
      slots.forEach((s, i) => {
        const r = runs[i]!;
        assert.equal(r.hung, false, `${s.name} blocked: ${describeRun(r)}`);
        assert.equal(r.code, s.exit ?? 2, `${s.name}: ${describeRun(r)}`);
        const err = r.json?.error;
        assert.equal(err?.code, s.code ?? 'INPUT_NOT_REGULAR', `${s.name}: ${describeRun(r)}`);
        assert.match(err?.message, kind, s.name);
        assert.match(err?.message, /not a regular file/, s.name);
      });
    });
  }

});

describe('every input cap: exactly the cap is read, one byte more is refused naming the cap', () => {
  it('64 MiB evidence, SBOM, OSV database and VEX; 4 MiB policy; 8 MiB trusted root; 1 MiB key', async () => {
    const cases: Array<{ name: string; args: string[]; ok: (r: BinRun) => void; refused: { args: string[]; exit: number; cap: RegExp; where: (r: BinRun) => { code?: unknown; message?: unknown } } }> = [
      {
        name: 'evidence',
        // Four JSON Lines items of 16 MiB each (the cap of one item).
        args: ['verify', p('art'), '--attestation', padded('att-cap.json', Array.from({ length: 4 }, () => ENVELOPE.padEnd(16 * MiB - 1)).join('\n'), 64 * MiB)],
        ok: (r) => {
          for (let i = 0; i < 4; i++) {
            const c = check(r, `dsse.attestation[${i}]`)!;
            assert.equal(c.status, 'failed');
            assert.match(c.reason, /no trusted identities or keys/, 'read and parsed, then judged');
          }
        },
        refused: { args: ['verify', p('art'), '--attestation', sparse('att-over.json', 64 * MiB + 1)], exit: 1, cap: /64 MiB \(67108864 bytes\) limit/, where: (r) => ({ code: check(r, 'dsse.attestation[0]')?.details?.code, message: check(r, 'dsse.attestation[0]')?.reason }) },
      },
      {
        name: 'SBOM',
        args: ['verify', p('art'), '--sbom', padded('sbom-cap.json', SBOM, 64 * MiB)],
        ok: (r) => assert.equal(check(r, 'sbom.schema')?.status, 'passed', describeRun(r)),
        refused: { args: ['verify', p('art'), '--sbom', sparse('sbom-over.json', 64 * MiB + 1)], exit: 1, cap: /64 MiB \(67108864 bytes\) limit/, where: (r) => r.json?.error },
      },
      {
        name: 'OSV database',
        args: ['verify', p('art'), '--sbom', p('sbom.json'), '--policy', p('vpolicy.json'), '--osv', padded('osv-cap.json', OSV, 64 * MiB)],
        ok: (r) => assert.equal(check(r, 'vuln.scan')?.status, 'passed', describeRun(r)),
        refused: { args: ['verify', p('art'), '--sbom', p('sbom.json'), '--policy', p('vpolicy.json'), '--osv', sparse('osv-over.json', 64 * MiB + 1)], exit: 2, cap: /64 MiB \(67108864 bytes\) limit/, where: (r) => r.json?.error },
      },
      {
        name: 'VEX',
        args: ['verify', p('art'), '--sbom', p('sbom.json'), '--vex', padded('vex-cap.json', JSON.stringify(openvex([])), 64 * MiB)],
        ok: (r) => assert.equal(check(r, 'sbom.schema')?.status, 'passed', describeRun(r)),
        refused: { args: ['verify', p('art'), '--sbom', p('sbom.json'), '--vex', sparse('vex-over.json', 64 * MiB + 1)], exit: 1, cap: /64 MiB \(67108864 bytes\) limit/, where: (r) => ({ code: check(r, 'vex.document[0]')?.details?.code, message: check(r, 'vex.document[0]')?.reason }) },
      },
      {
        name: 'policy',
        args: ['verify', p('art'), '--policy', padded('policy-cap.json', '{"version":1}', 4 * MiB)],
        ok: (r) => assert.equal(check(r, 'policy')?.status, 'passed', describeRun(r)),
        refused: { args: ['verify', p('art'), '--policy', padded('policy-over.json', '{"version":1}', 4 * MiB + 1)], exit: 2, cap: /4 MiB \(4194304 bytes\) limit/, where: (r) => r.json?.error },
      },
      {
        name: 'trusted root',
        args: ['verify', p('art'), '--bundle', p('bundle.json'), '--policy', p('idpolicy.json'), '--trusted-root', padded('tr-cap.json', JSON.stringify(tb.trustedRoot()), 8 * MiB)],
        ok: (r) => assert.equal(check(r, 'sigstore.bundle[0]')?.status, 'passed', describeRun(r)),
        refused: { args: ['verify', p('art'), '--bundle', p('bundle.json'), '--policy', p('idpolicy.json'), '--trusted-root', sparse('tr-over.json', 8 * MiB + 1)], exit: 2, cap: /8 MiB \(8388608 bytes\) limit/, where: (r) => r.json?.error },
      },
      {
        name: 'key',
        args: ['verify', p('art'), '--key', padded('key-cap.pem', ak, MiB)],
        ok: (r) => assert.equal(check(r, 'signatures.threshold')?.status, 'failed', describeRun(r)),
        refused: { args: ['verify', p('art'), '--key', padded('key-over.pem', ak, MiB + 1)], exit: 2, cap: /1 MiB \(1048576 bytes\) limit/, where: (r) => r.json?.error },
      },
    ];
    const runs = await runAll(cases.flatMap((c) => [{ args: [...c.args, '--json'], cwd: dir }, { args: [...c.refused.args, '--json'], cwd: dir }]), 2);
    cases.forEach((c, i) => {
      const ok = runs[2 * i]!;
      const over = runs[2 * i + 1]!;
      assert.equal(ok.hung, false, describeRun(ok));
      assert.ok(ok.json && !ok.json.error, `${c.name} at the cap: ${describeRun(ok)}`);
      c.ok(ok);
      assert.equal(over.code, c.refused.exit, `${c.name} over the cap: ${describeRun(over)}`);
      const e = c.refused.where(over);
      assert.equal(e.code, 'INPUT_TOO_LARGE', `${c.name} over the cap: ${describeRun(over)}`);
      assert.match(String(e.message), c.refused.cap, c.name);
    });
  });

  it('a 512,000-byte root (tuf-js\'s limit) and 64 KiB quote files; one byte more is refused before the TPM is touched', async () => {
    const root = padded('root-cap.json', '{}', 512_000);
    const rootOver = padded('root-over.json', '{}', 512_001);
    const msg = padded('msg-cap', '', 64 * 1024);
    const msgOver = padded('msg-over', '', 64 * 1024 + 1);
    const vq = (m: string) => ['tpm', 'verify-quote', '--nonce', 'ab', '--ak', p('ak.pem'), '--msg', m, '--sig', p('junk'), '--pcrs', p('junk'), '--json'];
    const [a, b, c, d] = await runAll([
      { args: ['init', '--repo', 'http://127.0.0.1:1/', '--root', root, '--state', p('st1'), '--json'] },
      { args: ['init', '--repo', 'http://127.0.0.1:1/', '--root', rootOver, '--state', p('st2'), '--json'] },
      { args: vq(msg) },
      { args: vq(msgOver) },
    ]);
    // Read, so init went on to the TPM (none at port 1: exit 3).
    assert.equal(errorCode(a!), 'TPM_CONNECT_FAILED', describeRun(a!));
    assert.equal(b!.code, 2, describeRun(b!));
    assert.equal(errorCode(b!), 'INPUT_TOO_LARGE');
    assert.match(b!.json.error.message, /--root .* 512001 bytes, more than the 500 KiB \(512000 bytes\) limit/);
    // Read, then refused as a malformed quote (a verification failure), not for its size.
    assert.notEqual(errorCode(c!), 'INPUT_TOO_LARGE', describeRun(c!));
    assert.equal(c!.code, 1, describeRun(c!));
    assert.equal(errorCode(d!), 'INPUT_TOO_LARGE', describeRun(d!));
    assert.match(d!.json.error.message, /--msg .* more than the 64 KiB \(65536 bytes\) limit/);
  });
});

describe('evidence caps', () => {
  it('100 JSON Lines items are judged one by one; 101 are one refusal naming the limit', async () => {
    writeFileSync(p('100.jsonl'), '{}\n'.repeat(100));
    writeFileSync(p('101.jsonl'), '{}\n'.repeat(101));
    writeFileSync(p('1.jsonl'), '{}\n');
    const [a, b, c] = await runAll([
      { args: ['verify', p('art'), '--attestation', p('100.jsonl'), '--json'] },
      { args: ['verify', p('art'), '--attestation', p('101.jsonl'), '--json'] },
      { args: ['verify', p('art'), '--attestation', p('100.jsonl'), '--attestation', p('1.jsonl'), '--json'] },
    ]);
    const items = (r: BinRun) => (r.json.checks as Array<{ id: string; reason: string; details?: { code?: string } }>).filter((x) => x.id.startsWith('dsse.attestation'));
    assert.equal(items(a!).length, 100, describeRun(a!));
    assert.ok(items(a!).every((x) => /neither a Sigstore bundle/.test(x.reason)));
    assert.equal(items(b!).length, 1, describeRun(b!));
    assert.equal(items(b!)[0]!.details?.code, 'EVIDENCE_TOO_MANY_ITEMS');
    assert.match(items(b!)[0]!.reason, /101 JSON Lines items, more than the limit of 100/);
    // The cap holds for all evidence files together.
    assert.equal(items(c!).length, 101, describeRun(c!));
    assert.equal(items(c!)[100]!.details?.code, 'EVIDENCE_TOO_MANY_ITEMS');
    assert.match(items(c!)[100]!.reason, /1\.jsonl was not read: .* 100 items, the limit for all evidence files together/);
  });

  it('60 MB of "{}" lines (under the byte cap) is one refusal naming the value limit, not a heap abort', async () => {
    const fd = openSync(p('60m.jsonl'), 'w');
    try {
      const block = Buffer.from('{}\n'.repeat(1024 * 1024));
      for (let i = 0; i < 20; i++) writeSync(fd, block);
    } finally {
      closeSync(fd);
    }
    const r = await tollgate(['verify', p('art'), '--attestation', p('60m.jsonl'), '--json']);
    assert.equal(r.hung, false, describeRun(r));
    assert.equal(r.code, 1, describeRun(r));
    const c = check(r, 'dsse.attestation[0]')!;
    assert.equal(c.details?.code, 'ATTEST_JSON_TOO_MANY_VALUES');
    assert.match(c.reason, /more than 2000000 JSON values/);
    assert.equal(check(r, 'dsse.attestation[1]'), undefined, 'one refusal, not one error per line');
  });

  it('an SBOM of 1.3 million empty objects (8 MB) is refused by the value cap before it is parsed', async () => {
    const head = '{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[';
    writeFileSync(p('sbom-values.json'), head + '{},'.repeat(1_300_000) + '{}]}');
    const r = await tollgate(['verify', p('art'), '--sbom', p('sbom-values.json'), '--json']);
    assert.equal(r.code, 1, describeRun(r));
    const c = check(r, 'sbom.schema')!;
    assert.equal(c.details?.code, 'ATTEST_JSON_TOO_MANY_VALUES');
    assert.match(c.reason, /more than 2000000 JSON values/);
  });
});

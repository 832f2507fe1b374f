// `tollgate ledger verify | show` and the ledger index in `tpm provision`, through the single binary
// (dist/tollgate, built by `npm test` before the suites run) against a real swtpm: exit codes 0 / 1
// / 2 / 3, --json documents, a crash leftover repaired and reported, a tampered ledger named, and
// an NV_Certify a remote party can check with the AK public key alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { withTPM } from '../tpm/helpers.ts';
import { verifyNVCertify, ledgerIndexName, readLedgerIndex, fromPem, LEDGER_NV_INDEX } from '../../hardware/index.ts';
import { Ledger, appendDecision } from '../../agent/ledger/index.ts';

const DIST = join(import.meta.dirname, '..', '..', 'dist');
let dir = '';
let bin = '';
let sw: Swtpm;

before(async () => {
  assert.ok(existsSync(join(DIST, 'tollgate')), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
  dir = mkdtempSync(join(tmpdir(), 'tollgate-ledgerbin-'));
  bin = join(dir, 'tollgate');
  copyFileSync(join(DIST, 'tollgate'), bin);
  chmodSync(bin, 0o755);
  sw = await startSwtpm({ ek: false });
});
after(async () => {
  await sw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run { code: number | null; stdout: string; stderr: string; json: any }

function run(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', TOLLGATE_TPM: sw.uri } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (code) => {
      try {
        resolve({ code, stdout, stderr, json: args.includes('--json') ? JSON.parse(stdout) : undefined });
      } catch (e) {
        reject(new Error(`tollgate ${args.join(' ')} printed no JSON: ${stdout} ${stderr}`, { cause: e }));
      }
    });
  });
}

const ledgerPath = () => join(dir, 'st', 'ledger', 'ledger.jsonl');

describe('tollgate ledger (dist/tollgate)', () => {
  it('tpm provision defines the ledger index once', async () => {
    const a = await run(['tpm', 'provision', '--ek', 'ecc', '--state', 'st', '--json']);
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual({ ...a.json.ledgerIndex, name: undefined }, { handle: '0x0150005f', created: true, written: false, name: undefined });
    assert.equal(a.json.ledgerIndex.name, ledgerIndexName(LEDGER_NV_INDEX, false).toString('hex'));
    const b = await run(['tpm', 'provision', '--ek', 'ecc', '--state', 'st', '--json']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.json.ledgerIndex.created, false);
    assert.equal(b.json.changed, false);
  });

  it('exit 2 without a ledger or for bad options', async () => {
    const cases: Array<[string[], string]> = [
      [['ledger', 'verify', '--state', 'none', '--json'], 'LEDGER_NOT_FOUND'],
      [['ledger', 'show', '--state', 'none', '--json'], 'LEDGER_NOT_FOUND'],
      [['ledger', 'show', '--state', 'none', '--since', '-1', '--json'], 'CLI_OPTION_VALUE'],
      [['ledger', 'verify', '--state', 'none', '--nonce', 'ab', '--json'], 'CLI_OPTION_VALUE'],
      [['ledger', 'verify', '--state', 'none', '--certify', '--nonce', 'xyz', '--json'], 'QUOTE_NONCE_INVALID'],
      [['ledger', 'verify', '--state', 'none', '--certify', '--out', '/', '--json'], 'CLI_OUTPUT_INVALID'],
    ];
    for (const [args, code] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
      assert.equal(r.json.error.code, code);
    }
    assert.equal(existsSync(join(dir, 'none')), false, 'verify created nothing');
  });

  it('verify and show a ledger; --certify is checkable with the AK public key alone', async () => {
    await withTPM(sw, async (tpm) => {
      const l = await Ledger.open({ stateRoot: join(dir, 'st'), tpm });
      await appendDecision(l, 'update', { result: 'success', versions: { root: 1, timestamp: 3 } });
      await appendDecision(l, 'fetch', { decision: 'allow', target: 'app.bin', sha256: '11'.repeat(32), vsaDigest: '22'.repeat(32) });
      await appendDecision(l, 'fetch', { decision: 'deny', target: 'old.bin', sha256: '33'.repeat(32), vsaDigest: '44'.repeat(32), failedChecks: ['osv.critical'] });
      await l.close();
    });
    const nv = (await withTPM(sw, (tpm) => readLedgerIndex(tpm))).value.toString('hex');
    const v = await run(['ledger', 'verify', '--state', 'st', '--json']);
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual({ records: v.json.records, value: v.json.nvIndex.value, handle: v.json.nvIndex.handle, recovered: v.json.recovered }, { records: 4, value: nv, handle: '0x0150005f', recovered: [] });
    assert.equal(v.json.nvIndex.name, ledgerIndexName(LEDGER_NV_INDEX, true).toString('hex'));
    const text = await run(['ledger', 'verify', '--state', 'st']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^Ledger verified: 4 records/);

    const nonce = 'a1'.repeat(20);
    const c = await run(['ledger', 'verify', '--state', 'st', '--certify', '--nonce', nonce, '--out', 'cert', '--json']);
    assert.equal(c.code, 0, c.stderr);
    const cert = c.json.certify;
    assert.equal(cert.nonce, nonce);
    assert.equal(cert.contents, nv);
    // What a remote party does: the AK's PEM, its own nonce, the index Name, the head it replayed.
    const checked = verifyNVCertify({
      ak: fromPem(cert.akPublicKey), attest: Buffer.from(cert.attest, 'hex'), signature: Buffer.from(cert.signature, 'hex'),
      nonce: Buffer.from(nonce, 'hex'), indexName: ledgerIndexName(LEDGER_NV_INDEX, true), contents: Buffer.from(v.json.nvIndex.value, 'hex'),
    });
    assert.equal(checked.contents.toString('hex'), nv);
    assert.deepEqual(readFileSync(join(dir, 'cert', 'nvcertify.msg')), Buffer.from(cert.attest, 'hex'));
    assert.deepEqual(readFileSync(join(dir, 'cert', 'nvcertify.sig')), Buffer.from(cert.signature, 'hex'));
    assert.equal(readFileSync(join(dir, 'cert', 'ak.pub.pem'), 'utf8'), cert.akPublicKey);

    const s = await run(['ledger', 'show', '--state', 'st', '--since', '2', '--json']);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(s.json.records.map((r: { seq: number; type: string }) => [r.seq, r.type]), [[2, 'fetch'], [3, 'fetch']]);
    assert.equal(s.json.records[1].data.vsaDigest, '44'.repeat(32));
    const st = await run(['ledger', 'show', '--state', 'st']);
    assert.equal(st.code, 0);
    assert.match(st.stdout, /^ {5}0 {2}\S+ {2}clock \d+ {2}ledger\.created /m);
    assert.match(st.stdout, /^ {5}3 .* fetch {2}\{"decision":"deny"/m);
  });

  it('a torn last line is repaired and reported; a reordered ledger exits 1 naming the record, and is left as it is', async () => {
    const good = readFileSync(ledgerPath());
    writeFileSync(ledgerPath(), Buffer.concat([good, Buffer.from('{"data":{"dec')]));
    const r = await run(['ledger', 'verify', '--state', 'st']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Repaired on open: dropped a torn last line \(13 bytes at byte \d+/);
    assert.equal(readFileSync(ledgerPath(), 'utf8').trimEnd().split('\n').length, 5, 'plus the ledger.recovered record');

    const ls = readFileSync(ledgerPath(), 'utf8').split('\n');
    [ls[1], ls[2]] = [ls[2]!, ls[1]!];
    writeFileSync(ledgerPath(), ls.join('\n'));
    const tampered = readFileSync(ledgerPath());
    const t = await run(['ledger', 'verify', '--state', 'st', '--json']);
    assert.equal(t.code, 1);
    assert.equal(t.json.error.code, 'LEDGER_TAMPERED');
    assert.deepEqual({ kind: t.json.error.details.kind, seq: t.json.error.details.seq }, { kind: 'reordered', seq: 1 });
    const tt = await run(['ledger', 'verify', '--state', 'st']);
    assert.equal(tt.code, 1);
    assert.match(tt.stderr, /^tollgate: LEDGER_TAMPERED: Ledger records are out of order: record 2 comes where record 1 belongs/);
    const s = await run(['ledger', 'show', '--state', 'st', '--json']);
    assert.equal(s.code, 1);
    assert.deepEqual(s.json.records.map((x: { seq: number }) => x.seq), [0]);
    assert.equal(s.json.error.kind, 'reordered');
    assert.deepEqual(readFileSync(ledgerPath()), tampered, 'nothing was changed');
  });

  it('exit 3 for a ledger path that is a FIFO', async () => {
    mkdirSync(join(dir, 'fifo', 'ledger'), { recursive: true });
    execFileSync('mkfifo', [join(dir, 'fifo', 'ledger', 'ledger.jsonl')]);
    for (const cmd of ['verify', 'show']) {
      const r = await run(['ledger', cmd, '--state', 'fifo', '--json']);
      assert.equal(r.code, 3, r.stdout);
      assert.equal(r.json.error.code, 'LEDGER_FILE_INVALID');
    }
  });
});

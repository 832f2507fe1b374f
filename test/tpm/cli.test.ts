// `tollgate tpm …` as a user runs it: `node agent/main.ts tpm …` child processes against a real
// swtpm chosen with TOLLGATE_TPM, checking exit codes, --json output and the files written.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { tool, endSuite } from './helpers.ts';
import { silentPorts } from '../silent-tpm.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'agent', 'main.ts');
let sw: Swtpm;
let dir: string;

before(async () => {
  sw = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-tpmcli-'));
});

after(() => endSuite(sw, dir));

interface Run { code: number | null; stdout: string; stderr: string; json: any }

// TOLLGATE_STATE: provisioning records the SRK Name in the state directory (never /var/lib/tollgate here).
function tollgate(args: string[], env: Record<string, string> = { TOLLGATE_TPM: sw.uri, TOLLGATE_STATE: join(dir, 'state') }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.once('error', reject);
    c.once('close', (code) => {
      try {
        resolve({ code, stdout, stderr, json: args.includes('--json') ? JSON.parse(stdout) : undefined });
      } catch (e) {
        reject(new Error(`tollgate ${args.join(' ')} printed no JSON: ${stdout} ${stderr}`, { cause: e }));
      }
    });
  });
}

async function fewAtATime<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, n = 3): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

describe('tollgate tpm (CLI)', () => {
  it('exits 2 with a message that says what to fix for bad input', async () => {
    const out = join(dir, 'never');
    const notADevice = join(dir, 'passwd');
    const notADeviceBytes = Buffer.from('root:x:0:0:root:/root:/bin/bash\n');
    const cases: Array<[string[], string, RegExp]> = [
      [['tpm', 'quote', '--nonce', 'abc', '--pcrs', 'sha256:0', '--out', out], 'QUOTE_NONCE_INVALID', /odd number of hex digits/],
      [['tpm', 'quote', '--nonce', 'ab'.repeat(65), '--pcrs', 'sha256:0', '--out', out], 'QUOTE_NONCE_INVALID', /65 bytes; at most 64/],
      [['tpm', 'quote', '--nonce', 'zz', '--pcrs', 'sha256:0', '--out', out], 'QUOTE_NONCE_INVALID', /not hexadecimal/],
      [['tpm', 'quote', '--nonce', 'ab', '--pcrs', 'sha256:0,99', '--out', out], 'PCR_LIST_INVALID', /PCR 99 is out of range/],
      [['tpm', 'quote', '--nonce', 'ab', '--pcrs', 'sha999:0', '--out', out], 'PCR_LIST_INVALID', /not a PCR bank/],
      [['tpm', 'quote', '--nonce', 'ab', '--pcrs', 'sha256:0'], 'CLI_MISSING_OPTION', /--out is required/],
      [['tpm', 'quote', '--tpm', 'bogus:thing', '--nonce', 'ab', '--pcrs', 'sha256:0', '--out', out], 'TPM_URI_INVALID', /swtpm:HOST:PORT/],
      [['tpm', 'verify-quote', '--ak', join(dir, 'missing.pem'), '--msg', 'x', '--sig', 'y', '--pcrs', 'z', '--nonce', 'ab'], 'CLI_FILE_UNREADABLE', /ENOENT/],
      [['tpm', 'provision', '--ek', 'dsa'], 'CLI_OPTION_VALUE', /rsa, ecc or rsa,ecc/],
      [['tpm', 'info', '--tpm-timeout', 'soon'], 'TPM_TIMEOUT_INVALID', /--tpm-timeout "soon" .*30s, 500ms or 5m/],
      [['tpm', 'info', '--tpm-timeout', '0'], 'TPM_TIMEOUT_INVALID', /from 1 ms to 60 m/],
      [['tpm', 'info', '--tpm', `device:${notADevice}`], 'TPM_NOT_A_DEVICE', /is a regular file, not a TPM character device; nothing was written/],
    ];
    writeFileSync(notADevice, notADeviceBytes);
    // Independent processes (nothing here reaches the TPM): a few side by side, not all at once, so
    // a loaded machine does not starve them into the spawn timeout.
    const results = await fewAtATime(cases, ([args]) => tollgate([...args, '--json']));
    cases.forEach(([args, code, msg], i) => {
      const r = results[i]!;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
      assert.equal(r.json.error.code, code);
      assert.match(r.json.error.message, msg);
    });
    const [t, env] = await Promise.all([tollgate(cases[0]![0]), tollgate(['tpm', 'info', '--json'], { TOLLGATE_TPM: 'swtpm:127.0.0.1:notaport' })]);
    assert.equal(t.code, 2);
    assert.match(t.stderr, /^tollgate: QUOTE_NONCE_INVALID: /);
    assert.equal(existsSync(out), false, 'a refused quote wrote files');
    assert.equal(env.code, 2);
    assert.equal(env.json.error.code, 'TPM_URI_INVALID');
    assert.deepEqual(readFileSync(notADevice), notADeviceBytes, 'device:PATH wrote into a regular file');
  });

  it('a TPM that takes the connection and never answers is reported after --tpm-timeout (or TOLLGATE_TPM_TIMEOUT), quoting that limit (exit 3)', async () => {
    const silent = await silentPorts('nothing');
    try {
      const [flag, env, text] = await Promise.all([
        tollgate(['tpm', 'info', '--tpm', silent.uri, '--tpm-timeout', '300ms', '--json']),
        tollgate(['tpm', 'info', '--json'], { TOLLGATE_TPM: silent.uri, TOLLGATE_TPM_TIMEOUT: '0.4' }),
        tollgate(['tpm', 'provision', '--tpm-timeout', '0.2s', '--tpm', silent.uri], { TOLLGATE_STATE: join(dir, 'never-state') }),
      ]);
      assert.equal(flag.code, 3, flag.stdout);
      assert.equal(flag.json.error.code, 'TPM_TIMEOUT');
      assert.match(flag.json.error.message, /did not answer TPM2_GetRandom within 300 ms/);
      assert.equal(flag.json.error.details.timeoutMs, 300);
      assert.equal(env.code, 3, env.stdout);
      assert.match(env.json.error.message, /within 400 ms/);
      assert.equal(text.code, 3);
      assert.match(text.stderr, /^tollgate: TPM_TIMEOUT: .* within 200 ms.*--tpm-timeout/);
      assert.equal(existsSync(join(dir, 'never-state')), false, 'a failed provisioning recorded state');
    } finally {
      await silent.close();
    }
  });

  it('refuses to quote before provisioning (exit 3, says to provision)', async () => {
    const r = await tollgate(['tpm', 'quote', '--nonce', 'ab', '--pcrs', 'sha256:0', '--out', join(dir, 'q0'), '--json']);
    assert.equal(r.code, 3);
    assert.equal(r.json.error.code, 'PROVISION_NOT_PROVISIONED');
    assert.match(r.json.error.message, /tollgate tpm provision/);
  });

  it('info shows manufacturer, banks, EK certificates chained to the CA, and our handles', async () => {
    const r = await tollgate(['tpm', 'info', '--json', '--ca', join(sw.caDir, 'issuercert.pem'), '--ca', join(sw.caDir, 'swtpm-localca-rootca-cert.pem')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.manufacturer, 'IBM');
    assert.equal(r.json.family, '2.0');
    assert.deepEqual(r.json.pcrBanks.map((b: { bank: string }) => b.bank).sort(), ['sha1', 'sha256']);
    assert.deepEqual(r.json.ekCertificates.map((c: { index: string; keyType: string; chain: string }) => [c.index, c.keyType, c.chain]),
      [['0x01c00002', 'rsa-2048', 'valid'], ['0x01c00016', 'ecc-p384', 'valid']]);
    assert.equal(r.json.ekCertificates[0].issuer, 'CN=swtpm-localca');
    const states = Object.fromEntries(r.json.handles.map((h: { handle: string; state: string }) => [h.handle, h.state]));
    assert.equal(states['0x81008001'], 'absent');
    const text = await tollgate(['tpm', 'info']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /manufacturer\s+IBM/);
    assert.match(text.stdout, /0x01c00002 rsa-2048/);
  });

  let akName = '';
  it('provision creates the keys once; a second run changes nothing', async () => {
    const out = join(dir, 'prov');
    const r1 = await tollgate(['tpm', 'provision', '--json', '--out', out]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r1.json.changed, true);
    assert.equal(r1.json.certification.verified, true);
    assert.match(r1.json.ak.pem, /BEGIN PUBLIC KEY/);
    assert.equal(r1.json.ak.handle, '0x81008001');
    assert.deepEqual(r1.json.ekCertificates.find((e: { role: string }) => e.role === 'ek-rsa').certificate, '0x01c00002');
    for (const f of ['ak.pub.pem', 'device.pub.pem', 'certify.msg', 'certify.sig']) assert.ok(existsSync(join(out, f)), f);
    const srk = r1.json.keys.find((k: { role: string }) => k.role === 'srk');
    assert.deepEqual(r1.json.srkPin, { file: join(dir, 'state', 'tpm.json'), name: srk.name });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'state', 'tpm.json'), 'utf8')), { layout: 1, srk: { handle: '0x81000001', name: srk.name } });
    const r2 = await tollgate(['tpm', 'provision', '--json']);
    assert.equal(r2.code, 0);
    assert.equal(r2.json.changed, false);
    assert.equal(r2.json.srkPin.name, srk.name);
    assert.deepEqual(r2.json.keys.map((k: { name: string }) => k.name), r1.json.keys.map((k: { name: string }) => k.name));
    akName = r1.json.ak.name;
    const text = await tollgate(['tpm', 'provision']);
    assert.match(text.stdout, /Already provisioned; nothing changed/);
    assert.match(text.stdout, /BEGIN PUBLIC KEY/);
  });

  it('quote writes files tpm2_checkquote accepts, and only for the right nonce', async () => {
    const out = join(dir, 'q');
    const nonce = '5eed'.repeat(16);
    const r = await tollgate(['tpm', 'quote', '--nonce', nonce, '--pcrs', 'sha256:0,1,2,3,4,5,6,7,16+sha1:0', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.akName, akName);
    assert.equal(r.json.pcrs, 'sha256:0,1,2,3,4,5,6,7,16+sha1:0');
    const args = (n: string) => ['-u', join(out, 'ak.pub.pem'), '-m', join(out, 'quote.msg'), '-s', join(out, 'quote.sig'), '-f', join(out, 'quote.pcrs'), '-g', 'sha256', '-q', n];
    const ok = tool(sw, 'tpm2_checkquote', args(nonce));
    assert.equal(ok.status, 0, ok.stderr);
    assert.notEqual(tool(sw, 'tpm2_checkquote', args('5eed')).status, 0);
  });

  it('verify-quote exits 0 for a good quote and 1 for a wrong nonce, key, PCRs or any altered byte', async () => {
    const q = join(dir, 'q');
    const nonce = '5eed'.repeat(16);
    const base = { ak: join(q, 'ak.pub.pem'), msg: join(q, 'quote.msg'), sig: join(q, 'quote.sig'), pcrs: join(q, 'quote.pcrs'), nonce };
    const argv = (o: Partial<typeof base>, json = true) => {
      const a = { ...base, ...o };
      return ['tpm', 'verify-quote', '--ak', a.ak, '--msg', a.msg, '--sig', a.sig, '--pcrs', a.pcrs, '--nonce', a.nonce, ...(json ? ['--json'] : [])];
    };
    const pcrs = Buffer.from(readFileSync(base.pcrs));
    pcrs[142] ^= 0x01; // first byte of the first digest
    writeFileSync(join(dir, 'bad.pcrs'), pcrs);
    writeFileSync(join(dir, 'short.pcrs'), pcrs.subarray(0, 200));
    const msg = Buffer.from(readFileSync(base.msg));
    msg[msg.length - 1] ^= 0x80;
    writeFileSync(join(dir, 'bad.msg'), msg);
    const sig = Buffer.from(readFileSync(base.sig));
    sig[sig.length - 1] ^= 0x01;
    writeFileSync(join(dir, 'bad.sig'), sig);
    writeFileSync(join(dir, 'bad.pem'), 'not a key');
    const cases: Array<[Partial<typeof base>, number, string | undefined]> = [
      [{}, 0, undefined],
      [{ nonce: '5eed' }, 1, 'QUOTE_NONCE_MISMATCH'],
      [{ ak: join(dir, 'prov', 'device.pub.pem') }, 1, 'QUOTE_SIGNATURE_INVALID'],
      [{ pcrs: join(dir, 'bad.pcrs') }, 1, 'QUOTE_PCR_DIGEST_MISMATCH'],
      [{ msg: join(dir, 'bad.msg') }, 1, 'QUOTE_SIGNATURE_INVALID'],
      [{ sig: join(dir, 'bad.sig') }, 1, 'QUOTE_SIGNATURE_INVALID'],
      [{ pcrs: join(dir, 'short.pcrs') }, 1, 'TPM2TOOLS_FILE_MALFORMED'],
      // The AK file is the verifier's own input: an unusable one is a usage error.
      [{ ak: join(dir, 'bad.pem') }, 2, 'CLI_AK_INVALID'],
    ];
    // Pure verification needs no TPM: no TOLLGATE_TPM in the environment.
    const [results, text] = await Promise.all([Promise.all(cases.map(([o]) => tollgate(argv(o), {}))), tollgate(argv({}, false), {})]);
    cases.forEach(([o, exit, code], i) => {
      const r = results[i]!;
      assert.equal(r.code, exit, `${JSON.stringify(o)}: ${r.stdout}`);
      if (code) assert.equal(r.json.error.code, code);
      else {
        assert.equal(r.json.verified, true);
        assert.equal(r.json.pcrValues.length, 10);
      }
    });
    assert.equal(text.code, 0);
    assert.match(text.stdout, /Quote verified/);
  });
});

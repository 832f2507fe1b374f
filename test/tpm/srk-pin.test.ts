// The SRK pin end to end, through the real dispatcher on a real swtpm: `tpm provision` records the
// SRK Name in <state>/tpm.json; the TUF commands (whose anchor NV reads and writes go through the
// salted session) then salt only to a key with that Name. A key substituted at 0x81000001 (the
// real SRK evicted, another storage key persisted there) is refused with TPM_SALT_KEY_MISMATCH
// before a session is salted to it, and provisioning does not re-pin to it; a missing SRK is
// refused too, and so is a corrupted tpm.json. Older state without tpm.json keeps
// working unpinned, and the same SRK made again (same owner seed, same template: same Name) is
// accepted again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../agent/cli.ts';
import { openTPM, srkTemplate, SRK_HANDLE, TPM_RH, type TPMTPublic } from '../../hardware/index.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { RepoBuilder, startTufServer } from '../fixtures/tuf/index.ts';

let sw: Swtpm;
let work: string;

before(async () => {
  sw = await startSwtpm();
  work = mkdtempSync(join(tmpdir(), 'tg-srkpin-'));
});
after(async () => {
  await sw.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Run { code: number; out: string; err: string; json: any }

async function cli(args: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '--json'], {
    stdout: (s) => { out += s; }, stderr: (s) => { err += s; },
    env: { ...process.env, TOLLGATE_TPM: sw.uri }, cwd: work, tty: false,
  });
  return { code, out, err, json: JSON.parse(out) };
}

/** Replaces whatever is at the SRK handle by a primary made from `template` (or by nothing). */
async function replaceSRK(template: TPMTPublic | null): Promise<void> {
  const tpm = await openTPM(sw.uri);
  try {
    await tpm.evictControl(TPM_RH.OWNER, SRK_HANDLE, SRK_HANDLE);
    if (!template) return;
    await tpm.withTransient(async () => {
      const k = await tpm.createPrimary(TPM_RH.OWNER, template);
      await tpm.evictControl(TPM_RH.OWNER, k.handle, SRK_HANDLE);
    });
  } finally {
    await tpm.close();
  }
}

test('salted sessions accept only the SRK recorded at provisioning; a substituted or missing one is refused', async () => {
  const repo = new RepoBuilder({ keyType: 'ecdsa' });
  repo.addTarget('app.bin', Buffer.from('app bytes'));
  repo.commit();
  const server = await startTufServer(repo);
  const state = join(work, 'state');
  const rootFile = join(work, 'root.json');
  writeFileSync(rootFile, repo.rootBytes());
  try {
    // Older state: initialised before any pin was recorded; it keeps working, unpinned.
    const init = await cli(['init', '--repo', server.url, '--root', rootFile, '--state', state]);
    assert.equal(init.code, 0, init.out);
    assert.equal((await cli(['update', '--state', state])).code, 0);

    const prov = await cli(['tpm', 'provision', '--ek', 'ecc', '--state', state]);
    assert.equal(prov.code, 0, prov.out);
    const srkName: string = prov.json.keys.find((k: { role: string }) => k.role === 'srk').name;
    assert.equal(prov.json.srkPin.name, srkName);
    assert.equal(JSON.parse(readFileSync(join(state, 'tpm.json'), 'utf8')).srk.name, srkName);
    const pinned = await cli(['update', '--state', state]);
    assert.equal(pinned.code, 0, pinned.out);

    // Another storage key at the SRK handle: same template, other unique → another key and Name.
    const other = srkTemplate();
    other.unique = { x: Buffer.alloc(32, 0x5a), y: Buffer.alloc(32, 0xa5) };
    await replaceSRK(other);
    for (const args of [['update', '--state', state], ['fetch', 'app.bin', '--out', join(work, 'app.bin'), '--state', state]]) {
      const r = await cli(args);
      assert.equal(r.code, 3, `${args[0]}: ${r.out}`);
      assert.equal(r.json.error.code, 'TPM_SALT_KEY_MISMATCH');
      assert.match(r.json.error.message, new RegExp(`the Name pinned in ${join(state, 'tpm.json')} is ${srkName}`));
    }

    // Provisioning does not re-pin to the substitute (it would create keys under it).
    const repin = await cli(['tpm', 'provision', '--ek', 'ecc', '--state', state]);
    assert.equal(repin.code, 3, repin.out);
    assert.equal(repin.json.error.code, 'TPM_SALT_KEY_MISMATCH');
    assert.match(repin.json.error.message, /the pin was kept/);
    assert.equal(JSON.parse(readFileSync(join(state, 'tpm.json'), 'utf8')).srk.name, srkName);

    // No key at all at the SRK handle: refused too (no fallback to a throwaway key).
    await replaceSRK(null);
    const missing = await cli(['update', '--state', state]);
    assert.equal(missing.code, 3, missing.out);
    assert.equal(missing.json.error.code, 'TPM_SALT_KEY_MISMATCH');
    assert.match(missing.json.error.message, /is not in the TPM/);

    // Provisioning makes the SRK again from the same owner seed: the same Name, accepted again.
    const again = await cli(['tpm', 'provision', '--ek', 'ecc', '--state', state]);
    assert.equal(again.code, 0, again.out);
    assert.equal(again.json.srkPin.name, srkName);
    assert.equal((await cli(['update', '--state', state])).code, 0);

    // A corrupted record is a typed error, not "no pin"; provisioning rewrites it.
    writeFileSync(join(state, 'tpm.json'), '{"layout":1,"srk":');
    const corrupt = await cli(['update', '--state', state]);
    assert.equal(corrupt.code, 3, corrupt.out);
    assert.equal(corrupt.json.error.code, 'TPM_STATE_INVALID');
    assert.match(corrupt.json.error.message, /tpm\.json is corrupted; run `tollgate tpm provision --state DIR` again/);
    assert.equal((await cli(['tpm', 'provision', '--ek', 'ecc', '--state', state])).code, 0);
    assert.equal(JSON.parse(readFileSync(join(state, 'tpm.json'), 'utf8')).srk.name, srkName);
    assert.equal((await cli(['update', '--state', state])).code, 0);
  } finally {
    await server.close();
  }
});

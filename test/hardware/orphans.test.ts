// swtpm has no resource manager: what a killed process left loaded stays loaded. openTPM reclaims
// such orphans on swtpm, so repeated crashes cannot exhaust the TPM's session slots (swtpm has 3
// loaded-session slots: without reclaiming, the 4th StartAuthSession fails TPM_RC_SESSION_MEMORY).
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { openTPM, TPM_HT } from '../../hardware/index.ts';

let sw: Swtpm;
before(async () => { sw = await startSwtpm({ ek: false }); });
after(async () => { await sw?.stop(); });

// A child that opens the TPM, starts sessions, says so, then waits to be SIGKILLed.
const CHILD = `
import { openTPM } from ${JSON.stringify(new URL('../../hardware/index.ts', import.meta.url).href)};
const tpm = await openTPM(process.argv[1], { reclaimOrphans: process.argv[2] === '1' });
for (let i = 0; i < 2; i++) await tpm.startPolicySession();
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`;

function crashOnce(reclaim: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', CHILD, sw.uri, reclaim ? '1' : '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    c.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) c.kill('SIGKILL'); });
    c.once('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

it('sessions left by a killed process are flushed on the next open, however often processes crash', async () => {
  for (let i = 0; i < 5; i++) await crashOnce(true);
  const tpm = await openTPM(sw.uri);
  try {
    assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), []);
    assert.deepEqual(await tpm.handles(TPM_HT.TRANSIENT), []);
  } finally {
    await tpm.close();
  }
});

it('without reclaiming, the orphans really are there (the check above can fail)', async () => {
  await crashOnce(false);
  const tpm = await openTPM(sw.uri, { reclaimOrphans: false });
  try {
    assert.equal((await tpm.handles(TPM_HT.LOADED_SESSION)).length, 2);
    assert.equal((await tpm.reclaimOrphans()).length, 2);
    assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), []);
  } finally {
    await tpm.close();
  }
});

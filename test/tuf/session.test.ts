// openTargetSession: one refresh (one timestamp fetch, one raise of the TPM floors), then several
// lookups and downloads against that same trusted metadata — what the install gate needs to fetch a
// target together with the evidence and policy targets that vouch for it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openTargetSession, TufError } from '../../tuf/index.ts';
import { startLab, newDevice, FAST, type Lab } from './device-helpers.ts';

let lab: Lab;
before(async () => { lab = await startLab(); });
after(async () => { await lab.close(); });

const code = (c: string) => (e: unknown) => e instanceof TufError && e.code === c;

test('one refresh serves many lookups and downloads; custom metadata comes with the lookup', async () => {
  const dev = await newDevice(lab, {
    keyType: 'ecdsa',
    setup: (r) => {
      r.addTarget('app.bin.att.json', '{"evidence":1}', { custom: { kind: 'attestation' } });
      r.delegate('targets', 'team', { paths: ['team/*', 'team/sub/*'] });
      r.addTarget('team/tool', 'tool bytes', { role: 'team' });
      r.delegate('team', 'sub', { paths: ['team/sub/*'] });
      r.addTarget('team/sub/deep', 'deep bytes', { role: 'sub' });
      r.addTarget('team/both', 'listed at the top', { role: 'targets' });
      r.addTarget('team/both', 'listed by team', { role: 'team' });
    },
  });
  try {
    const s = await openTargetSession({ stateDir: dev.state, tpm: lab.dev, limits: FAST });
    try {
      assert.equal(s.update.versions.timestamp, 1);
      const app = await s.find('app.bin');
      const att = await s.find('app.bin.att.json');
      const tool = await s.find('team/tool');
      assert.ok(app && att && tool);
      assert.deepEqual(att.custom, { kind: 'attestation' });
      // Which role's signed metadata lists each target (the gate lets only 'targets' choose trust inputs).
      assert.equal(app.role, 'targets');
      assert.equal(tool.role, 'team');
      assert.equal((await s.find('team/sub/deep'))?.role, 'sub');
      const both = await s.find('team/both');
      assert.equal(both?.role, 'targets', 'the top-level listing wins (the walk visits it first)');
      assert.equal(both?.length, 'listed at the top'.length);
      assert.equal((await s.find('team/tool'))?.role, 'team', 'the same answer from cached delegated metadata');
      assert.equal(await s.find('missing.bin'), undefined, 'a target nobody lists is undefined, not an error');
      await s.download('app.bin', join(dev.out, 'a'));
      await s.download('team/tool', join(dev.out, 'tool'));
      assert.equal(readFileSync(join(dev.out, 'a'), 'utf8'), 'application v1');
      assert.equal(readFileSync(join(dev.out, 'tool'), 'utf8'), 'tool bytes');
      assert.equal(dev.server.count('metadata/timestamp.json'), 1, 'metadata refreshed once for the whole session');
      const again = await s.download('app.bin', join(dev.out, 'a'));
      assert.equal(again.cached, true);
    } finally {
      s.close();
    }
  } finally {
    await dev.close();
  }
});

test('downloads take only targets the session found; a tampered target leaves nothing behind; closed sessions refuse', async () => {
  const dev = await newDevice(lab, { setup: (r) => r.addTarget('ev.json', 'evidence v1') });
  try {
    const s = await openTargetSession({ stateDir: dev.state, tpm: lab.dev, limits: FAST });
    await assert.rejects(s.download('app.bin', join(dev.out, 'x')), code('TUF_USAGE'), 'not looked up yet');
    await assert.rejects(s.find('../etc/passwd'), code('TUF_TARGET_PATH_INVALID'));
    assert.ok(await s.find('ev.json'));
    dev.repo.tamperTarget('ev.json', 'evidence v2');
    await assert.rejects(s.download('ev.json', join(dev.out, 'ev.json')), code('TUF_HASH_MISMATCH'));
    assert.deepEqual(readdirSync(dev.out), [], 'no staging leftovers, nothing at the destination');
    assert.equal(existsSync(join(dev.out, 'ev.json')), false);
    s.close();
    s.close();
    await assert.rejects(s.find('app.bin'), code('TUF_USAGE'));
  } finally {
    await dev.close();
  }
});

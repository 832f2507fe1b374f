// Device mode on a real swtpm: the root pinned in a write-locked NV index, the TPM rollback floor,
// the TPM-bound time floor, and the attacks of the TUF threat model, each refused with a typed
// error and nothing written to the state dir or the output dir.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TPMError } from '../../hardware/index.ts';
import { RepoBuilder } from '../fixtures/tuf/index.ts';
import { initDevice, TufError } from '../../tuf/index.ts';
import { TpmAnchor, epochHandles } from '../../tuf/anchor.ts';
import { stepsForVersion } from '../../tuf/floor-encoding.ts';
import type { FetchResult } from './fetch-target.ts';
import { startLab, newDevice, snapshotDir, copyDir, type Lab, type Device } from './device-helpers.ts';

let lab: Lab;
before(async () => { lab = await startLab(); });
after(async () => { await lab.close(); });

const code = (c: string) => (e: unknown) => {
  if (e instanceof TufError && e.code === c) return true;
  throw new assert.AssertionError({ message: `expected ${c}, got ${e instanceof TufError ? e.code : String(e)}: ${(e as Error)?.message}` });
};

function changedFiles(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

/**
 * Runs an attack: it must fail with `c` and leave the state and output dirs byte-identical. For
 * attacks on a target (`targetOnly`), the metadata refresh before the download legitimately
 * succeeds, which advances the time-floor record; nothing else may change.
 */
async function refused(dev: Device, c: string, run: () => Promise<unknown>, opts: { targetOnly?: boolean } = {}): Promise<TufError> {
  const before = snapshotDir(dev.state);
  const outBefore = readdirSync(dev.out);
  let err: unknown;
  await assert.rejects(run(), (e) => { err = e; return code(c)(e); });
  const changed = changedFiles(before, snapshotDir(dev.state)).filter((f) => !(opts.targetOnly && f === 'time.json'));
  assert.deepEqual(changed, [], 'state dir unchanged');
  assert.deepEqual(readdirSync(dev.out), outBefore, 'nothing new in the output dir (no staging leftovers)');
  return err as TufError;
}

test('init pins the root: digest check, idempotent re-init, conflicting root refused, anchor write-locked', async () => {
  const repo = new RepoBuilder();
  repo.commit();
  const other = new RepoBuilder();
  other.commit();
  const base = lab.nextBase();
  const state = join(lab.work, 'init-state');
  await assert.rejects(initDevice({ stateDir: state, tpm: lab.dev, repo: 'http://127.0.0.1:1/', rootBytes: repo.rootBytes(), rootSha256: 'ab'.repeat(32), anchorHandle: base }), code('TUF_ROOT_MISMATCH'));
  assert.equal(existsSync(state), false, 'nothing written when the digest is wrong');
  await assert.rejects(initDevice({ stateDir: state, tpm: lab.dev, repo: 'http://127.0.0.1:1/', rootBytes: Buffer.from('{"signed":{}}'), anchorHandle: base }), code('TUF_ROOT_INVALID'));
  const { createHash } = await import('node:crypto');
  const digest = createHash('sha256').update(repo.rootBytes()).digest('hex');
  const r = await initDevice({ stateDir: state, tpm: lab.dev, repo: 'http://127.0.0.1:1/', rootBytes: repo.rootBytes(), rootSha256: digest.toUpperCase(), anchorHandle: base });
  assert.equal(r.anchor.created, true);
  assert.equal(r.root.sha256, digest);
  const again = await initDevice({ stateDir: state, tpm: lab.dev, repo: 'http://127.0.0.1:1/', rootBytes: repo.rootBytes(), anchorHandle: base });
  assert.equal(again.anchor.created, false);
  await assert.rejects(initDevice({ stateDir: join(lab.work, 'init-other'), tpm: lab.dev, repo: 'http://127.0.0.1:1/', rootBytes: other.rootBytes(), anchorHandle: base }), code('TUF_ANCHOR_CONFLICT'));
  // The anchor cannot be rewritten, even with owner authorization.
  await assert.rejects(lab.tpm.nvWrite(base, Buffer.alloc(112)), (e: unknown) => e instanceof TPMError && e.code === 'TPM_RC_NV_LOCKED');
  const anchor = await TpmAnchor.load(lab.dev, base);
  assert.equal(anchor.record.rootDigest.toString('hex'), digest);
});

test('update then fetch: floors rise with the versions, the target lands verified, a cached target is not fetched again', async () => {
  const dev = await newDevice(lab);
  try {
    const u1 = await dev.update();
    assert.deepEqual(u1.versions, { root: 1, timestamp: 1, snapshot: 1, targets: 1 });
    assert.deepEqual(u1.floors.after, { root: 1, timestamp: 1, snapshot: 1 });
    dev.repo.addTarget('app.bin', Buffer.from('application v2'));
    dev.repo.commit();
    const f = await dev.fetch('app.bin');
    assert.equal(readFileSync(f.path, 'utf8'), 'application v2');
    assert.deepEqual(f.update.floors.after, { root: 1, timestamp: 2, snapshot: 2 });
    dev.server.resetCounts();
    const again = await dev.fetch('app.bin');
    assert.equal(again.cached, true);
    assert.equal(dev.server.log.filter((l) => l.startsWith('targets/')).length, 0);
    await assert.rejects(dev.fetch('missing.bin'), code('TUF_TARGET_NOT_FOUND'));
  } finally { await dev.close(); }
});

test('a big version jump raises the floor with few increments and never above the version', async () => {
  const dev = await newDevice(lab);
  try {
    await dev.update();
    dev.repo.setVersion('timestamp', 1_000_000);
    dev.repo.commit();
    const u = await dev.update();
    assert.ok(u.floors.after.timestamp <= 1_000_000 && u.floors.after.timestamp > 990_000, `floor ${u.floors.after.timestamp}`);
    assert.ok(u.floors.increments < 2000, `increments ${u.floors.increments}`);
    // The repository going back below the floor is refused, naming role and versions.
    dev.repo.setVersion('timestamp', 500_000);
    dev.repo.commit();
    const e = await refused(dev, 'TUF_ROLLBACK', () => dev.update());
    assert.equal(e.details?.['role'], 'timestamp');
  } finally { await dev.close(); }
});

test('two raises at once on one connection (no state lock) end at exactly the trusted versions', async () => {
  const dev = await newDevice(lab);
  try {
    await dev.update();
    const want = { root: 1, timestamp: 301, snapshot: 77 };
    // Two anchors raising together, interleaved command by command on the one TPM connection:
    // each reading the counter before the other's increments land must not add its own on top.
    const [a, b] = await Promise.all([TpmAnchor.load(lab.dev, dev.base), TpmAnchor.load(lab.dev, dev.base)]);
    const before = await a!.floors();
    const [ra, rb] = await Promise.all([a!.raise(want), b!.raise(want)]);
    assert.deepEqual(await a!.floors(), { root: 1, timestamp: 300, snapshot: 77 }, 'timestamp 301 is kept as the representable 300');
    assert.deepEqual(ra.floors, rb.floors);
    const steps = (v: number) => Number(stepsForVersion(BigInt(v)));
    assert.equal(ra.increments + rb.increments, steps(301) - steps(before.timestamp) + steps(77) - steps(before.snapshot), 'every step taken exactly once');
    // Raising again to the same or lower versions takes no step.
    assert.equal((await a!.raise(want)).increments, 0);
    assert.equal((await a!.raise({ root: 1, timestamp: 5, snapshot: 5 })).increments, 0);
  } finally { await dev.close(); }
});

test('disk rollback: an old copy of the state dir is caught by the TPM floor', async () => {
  const dev = await newDevice(lab);
  try {
    await dev.update();
    const old = join(lab.work, 'old-state');
    copyDir(dev.state, old);
    const oldCommit = dev.repo.commit().index; // timestamp v2
    dev.repo.touch('targets');
    const latest = dev.repo.commit().index; // ts v3, snapshot v2, targets v2
    await dev.update();
    // The attacker restores the old state dir and serves the old repository state.
    copyDir(old, dev.state);
    dev.repo.rollbackTo(oldCommit);
    const e = await refused(dev, 'TUF_ROLLBACK', () => dev.update());
    assert.match(e.message, /timestamp version 2 is below the trusted version 3/);
    assert.deepEqual([e.details?.['role'], e.details?.['version'], e.details?.['floor']], ['timestamp', 2, 3]);
    // With the honest repository back, the device recovers and reports the rolled-back files.
    dev.repo.rollbackTo(latest);
    dev.repo.touch('timestamp');
    dev.repo.commit();
    const u = await dev.update();
    assert.ok(u.versions.timestamp > 3);
    assert.ok(u.warnings.some((w) => w.code === 'TUF_LOCAL_IGNORED'));
  } finally { await dev.close(); }
});

test('disk rollback of the root history with the newer root withheld is caught by the root floor', async () => {
  const dev = await newDevice(lab);
  try {
    await dev.update();
    dev.repo.rotateRoot();
    dev.repo.commit();
    const u = await dev.update();
    assert.equal(u.versions.root, 2);
    rmSync(join(dev.state, 'roots'), { recursive: true });
    dev.repo.unserve(dev.repo.metadataRel('root', 2));
    const e = await refused(dev, 'TUF_ROLLBACK', () => dev.update());
    assert.equal(e.details?.['role'], 'root');
  } finally { await dev.close(); }
});

test('root swap on disk is caught by the NV digest', async () => {
  const dev = await newDevice(lab);
  try {
    await dev.update();
    const evil = new RepoBuilder();
    evil.commit();
    writeFileSync(join(dev.state, 'root.pinned.json'), evil.rootBytes());
    await refused(dev, 'TUF_ROOT_MISMATCH', () => dev.update());
    rmSync(join(dev.state, 'root.pinned.json'));
    await refused(dev, 'TUF_ROOT_MISMATCH', () => dev.update());
  } finally { await dev.close(); }
});

test('rollback of each role over the network is refused', async () => {
  const dev = await newDevice(lab);
  try {
    dev.repo.touch('targets');
    dev.repo.commit(); // targets v2, snapshot v2, ts v2
    await dev.update();
    // timestamp: an older timestamp served as the current one
    dev.repo.serveRoleVersion('timestamp', 1);
    await refused(dev, 'TUF_ROLLBACK', () => dev.update());
    // snapshot: a new timestamp listing an older snapshot version
    dev.repo.setVersion('snapshot', 1);
    dev.repo.commit();
    await refused(dev, 'TUF_ROLLBACK', () => dev.update());
    // targets: a new snapshot listing an older targets version
    dev.repo.setVersion('snapshot', 5);
    dev.repo.setVersion('targets', 1);
    dev.repo.commit();
    await refused(dev, 'TUF_ROLLBACK', () => dev.update());
  } finally { await dev.close(); }
});

test('freeze attack: each expired role is refused', async () => {
  for (const role of ['timestamp', 'snapshot', 'targets', 'root'] as const) {
    const dev = await newDevice(lab);
    try {
      await dev.update();
      if (role === 'root') dev.repo.rotateRoot();
      dev.repo.expire(role);
      dev.repo.commit();
      const e = await refused(dev, 'TUF_EXPIRED', () => dev.update());
      assert.equal(e.details?.['role'], role, e.message);
    } finally { await dev.close(); }
  }
});

test('clock set back: the TPM clock keeps the time floor moving, so frozen metadata expires anyway', async () => {
  const dev = await newDevice(lab);
  try {
    // T: a whole second (TUF expiry has one-second granularity) well after the fixture's clock.
    const T = Math.ceil(dev.repo.now.getTime() / 1000) * 1000 + 60_000;
    dev.repo.setExpires('timestamp', new Date(T + 2000));
    dev.repo.commit();
    const u1 = await dev.update({ nowMs: T });
    assert.equal(u1.time.reference, new Date(T).toISOString());
    // The attacker now freezes the repository (keeps serving that timestamp) and holds the
    // device's system clock at T. Real time passes; the TPM clock counts it.
    await new Promise((r) => setTimeout(r, 2600));
    const e = await refused(dev, 'TUF_EXPIRED', () => dev.update({ nowMs: T }));
    assert.equal(e.details?.['role'], 'timestamp');
    // Fresh metadata is accepted; the clock behind the floor is reported, the floor is used.
    dev.repo.setExpires('timestamp', new Date(T + 86_400_000));
    dev.repo.commit();
    const u = await dev.update({ nowMs: T - 3600_000 });
    assert.ok(u.warnings.some((w) => w.code === 'TUF_CLOCK_BACKWARDS'), 'clock going backwards is reported');
    assert.ok(Date.parse(u.time.reference) >= T + 2000);
    assert.equal(u.time.boundToTpmClock, true);
  } finally { await dev.close(); }
});

test('mix-and-match: an old targets file under the current name is refused', async () => {
  const dev = await newDevice(lab);
  try {
    await dev.update();
    dev.repo.touch('targets');
    dev.repo.commit();
    dev.repo.serveRoleVersion('targets', 1);
    await refused(dev, 'TUF_VERSION_MISMATCH', () => dev.update());
  } finally { await dev.close(); }
});

test('arbitrary target: tampered bytes are refused and never reach the output', async () => {
  const dev = await newDevice(lab);
  try {
    dev.repo.tamperTarget('app.bin', 'malware!');
    await assert.rejects(dev.fetch('app.bin'), code('TUF_LENGTH_MISMATCH'));
    dev.repo.tamperTarget('app.bin', 'application vX'); // same length, other bytes
    await refused(dev, 'TUF_HASH_MISMATCH', () => dev.fetch('app.bin'), { targetOnly: true });
  } finally { await dev.close(); }
});

test('endless data on metadata and on a target is cut at the cap', async () => {
  const dev = await newDevice(lab);
  try {
    await dev.update();
    dev.server.misbehave('metadata/timestamp.json', { kind: 'endless' }, { times: 1 });
    await refused(dev, 'TUF_ENDLESS_DATA', () => dev.update());
    dev.server.misbehave((rel) => rel.startsWith('targets/'), { kind: 'endless' }, { times: 1 });
    await refused(dev, 'TUF_ENDLESS_DATA', () => dev.fetch('app.bin'), { targetOnly: true });
  } finally { await dev.close(); }
});

test('slow retrieval of metadata and of a target is aborted', async () => {
  const dev = await newDevice(lab);
  try {
    await dev.update();
    dev.repo.touch('targets');
    dev.repo.commit();
    dev.server.misbehave((rel) => rel.includes('snapshot'), { kind: 'slow', intervalMs: 100, bytesPerTick: 1 }, { times: 1 });
    await refused(dev, 'TUF_SLOW_RETRIEVAL', () => dev.update());
    await dev.update();
    dev.server.misbehave((rel) => rel.startsWith('targets/'), { kind: 'slow', intervalMs: 100, bytesPerTick: 1 }, { times: 1 });
    await refused(dev, 'TUF_SLOW_RETRIEVAL', () => dev.fetch('app.bin'), { targetOnly: true });
  } finally { await dev.close(); }
});

test('root rotation with a threshold change raises the root floor; revoked keys are refused', async () => {
  const dev = await newDevice(lab, { keyType: 'ecdsa' });
  try {
    await dev.update();
    dev.repo.rotateRoot({ keyCount: 3, threshold: 2 });
    dev.repo.commit();
    const u = await dev.update();
    assert.equal(u.versions.root, 2);
    assert.equal(u.floors.after.root, 2);
    assert.ok(existsSync(join(dev.state, 'roots', '2.root.json')));
    // Revoke the targets key; metadata signed by the revoked key is refused.
    const oldKey = dev.repo.keysOf('targets')[0]!;
    dev.repo.setRoleKeys('targets', [dev.repo.newKey()]);
    dev.repo.commit();
    await dev.update();
    dev.repo.signWith('targets', [oldKey]);
    dev.repo.touch('targets');
    dev.repo.commit();
    await refused(dev, 'TUF_SIGNATURE', () => dev.update());
  } finally { await dev.close(); }
});

test('fast-forward recovery: a timestamp key rotation opens a new TPM key epoch', async () => {
  const dev = await newDevice(lab);
  try {
    dev.repo.setVersion('timestamp', 900);
    dev.repo.commit();
    const u1 = await dev.update();
    assert.equal(u1.floors.after.timestamp, 900);
    dev.repo.setRoleKeys('timestamp', [dev.repo.newKey()]);
    dev.repo.setVersion('timestamp', 1);
    dev.repo.commit();
    const u2 = await dev.update();
    assert.equal(u2.versions.timestamp, 1);
    assert.equal(u2.floors.newEpoch, true);
    assert.equal(u2.floors.epoch, 1);
    assert.equal(u2.floors.after.timestamp, 1);
    const anchor = await TpmAnchor.load(lab.dev, dev.base);
    assert.equal(anchor.epochs.length, 2);
    assert.ok((await lab.dev.nvPublic(epochHandles(1, dev.base).record))!.attributes & (1 << 11), 'epoch record write-locked');
    // The new epoch's floor holds: going back is refused.
    dev.repo.touch('timestamp');
    dev.repo.commit();
    await dev.update();
    dev.repo.serveRoleVersion('timestamp', 1);
    await refused(dev, 'TUF_ROLLBACK', () => dev.update());
  } finally { await dev.close(); }
});

test('target paths that escape are refused before anything is fetched', async () => {
  const dev = await newDevice(lab, {
    setup: (r) => {
      r.addTarget('../evil.sh', 'evil');
      r.addTarget('/etc/cron.d/evil', 'evil');
      r.addTarget('a/../../b', 'evil');
    },
  });
  try {
    for (const t of ['../evil.sh', '/etc/cron.d/evil', 'a/../../b']) {
      await refused(dev, 'TUF_TARGET_PATH_INVALID', () => dev.fetch(t));
    }
  } finally { await dev.close(); }
});

test('delegations through the device path: patterns, terminating, hash bins', async () => {
  const dev = await newDevice(lab, {
    setup: (r) => {
      r.delegate('targets', 'apps', { paths: ['apps/*'], terminating: true });
      r.delegate('targets', 'fallback', { paths: ['*', 'apps/*'] });
      r.addTarget('apps/one', 'one', { role: 'apps' });
      r.addTarget('apps/hidden', 'hidden', { role: 'fallback' });
      r.delegateHashBins('apps', { bitLength: 3 }).length;
    },
  });
  try {
    const f: FetchResult = await dev.fetch('apps/one', { out: join(dev.out, 'one') });
    assert.equal(readFileSync(f.path, 'utf8'), 'one');
    await assert.rejects(dev.fetch('apps/hidden', { out: join(dev.out, 'hidden') }), code('TUF_TARGET_NOT_FOUND'));
    assert.ok(existsSync(join(dev.state, 'metadata', 'apps.json')), 'delegated role persisted');
  } finally { await dev.close(); }
});

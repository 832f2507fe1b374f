// The repositories the builder makes are accepted by bare tuf-js 6: refresh, target lookup through
// delegations and hash bins, and download, for every key type and both snapshot modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { KEY_TYPES, RepoBuilder, startTufServer, poolKeys } from '../fixtures/tuf/index.ts';
import type { RepoOptions, TufServer } from '../fixtures/tuf/index.ts';
import { client } from './client.ts';

async function withServer<T>(repo: RepoBuilder | string, fn: (s: TufServer) => Promise<T>): Promise<T> {
  const server = await startTufServer(repo);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function smallRepo(opts: RepoOptions): RepoBuilder {
  const repo = new RepoBuilder(opts);
  repo.addTarget('app.bin', 'application bytes\n', { custom: { evidence: ['app.sbom.json'] } });
  repo.addTarget('app.sbom.json', '{"bomFormat":"CycloneDX"}');
  repo.delegate('targets', 'team', { paths: ['team/*'] });
  repo.addTarget('team/tool.tgz', 'tool bytes', { role: 'team' });
  repo.commit();
  return repo;
}

for (const keyType of KEY_TYPES) {
  for (const consistentSnapshot of [true, false]) {
    test(`tuf-js accepts a ${keyType} repository, consistent_snapshot=${consistentSnapshot}`, async () => {
      const repo = smallRepo({ keyType, consistentSnapshot });
      await withServer(repo, async (server) => {
        const c = client(repo, server);
        try {
          const u = c.updater();
          await u.refresh();
          const app = await u.getTargetInfo('app.bin');
          assert.ok(app);
          assert.deepEqual(app.custom, { evidence: ['app.sbom.json'] });
          assert.deepEqual(Object.keys(app.hashes), ['sha256', 'sha512']);
          const out = await u.downloadTarget(app);
          assert.equal(readFileSync(out, 'utf8'), 'application bytes\n');
          const tool = await u.getTargetInfo('team/tool.tgz');
          assert.ok(tool);
          assert.equal(readFileSync(await u.downloadTarget(tool), 'utf8'), 'tool bytes');
          assert.equal(await u.getTargetInfo('missing.bin'), undefined);
          // The client asked for exactly the names its mode implies.
          const snap = consistentSnapshot ? 'metadata/1.snapshot.json' : 'metadata/snapshot.json';
          assert.equal(server.count(snap), 1);
          const appName = consistentSnapshot ? `targets/${app.hashes['sha256']}.app.bin` : 'targets/app.bin';
          assert.equal(server.count(appName), 1);
          // Key encodings follow tuf-js conventions.
          const root = repo.metadata('root').signed as { keys: Record<string, { keytype: string; scheme: string; keyval: { public: string } }> };
          for (const k of Object.values(root.keys)) {
            if (keyType === 'ed25519') assert.match(k.keyval.public, /^[0-9a-f]{64}$/);
            else assert.match(k.keyval.public, /^-----BEGIN PUBLIC KEY-----/);
            assert.equal(k.keytype, keyType);
          }
        } finally {
          c.cleanup();
        }
      });
    });
  }
}

test('tuf-js accepts thresholds, snapshot meta with hashes and length, and a new version of every role', async () => {
  const repo = new RepoBuilder({
    keysPerRole: { root: 3, timestamp: 2, snapshot: 2, targets: 2 },
    thresholds: { root: 2, timestamp: 2, snapshot: 2, targets: 2 },
    snapshotMeta: { length: true, hashes: ['sha256', 'sha512'] },
    timestampMeta: { length: true, hashes: ['sha256', 'sha512'] },
  });
  repo.addTarget('a.txt', 'a');
  repo.commit();
  await withServer(repo, async (server) => {
    const c = client(repo, server);
    try {
      await c.updater().refresh();
      repo.addTarget('b.txt', 'b');
      const r = repo.commit();
      assert.deepEqual(r.published, { targets: 2, snapshot: 2, timestamp: 2 });
      const u = c.updater();
      const b = await u.getTargetInfo('b.txt');
      assert.ok(b);
      assert.equal(readFileSync(await u.downloadTarget(b), 'utf8'), 'b');
      const snap = repo.metadata('snapshot').signed as { meta: Record<string, { length: number; hashes: Record<string, string> }> };
      assert.equal(snap.meta['targets.json']!.length, repo.bytes('targets').length);
      assert.equal(snap.meta['targets.json']!.hashes['sha256'], sha256(repo.bytes('targets')));
    } finally {
      c.cleanup();
    }
  });
});

test('tuf-js follows a valid root rotation with a threshold change and new keys', async () => {
  const repo = new RepoBuilder({ keysPerRole: { root: 2 }, thresholds: { root: 1 } });
  repo.addTarget('a.txt', 'a');
  repo.commit();
  await withServer(repo, async (server) => {
    const c = client(repo, server);
    try {
      await c.updater().refresh();
      const newKeys = repo.rotateRoot({ keyCount: 3, threshold: 2 });
      repo.setRoleKeys('timestamp', repo.newKeys(1)); // also rotate the timestamp key in root v2
      repo.commit();
      repo.rotateRoot({ keys: [newKeys[0]!, newKeys[1]!, repo.newKey()], threshold: 3 });
      repo.commit();
      assert.deepEqual(repo.publishedVersions('root'), [1, 2, 3]);
      await c.updater().refresh();
      const trusted = JSON.parse(readFileSync(join(c.metadataDir, 'root.json'), 'utf8')) as { signed: { version: number; roles: { root: { threshold: number } } } };
      assert.equal(trusted.signed.version, 3);
      assert.equal(trusted.signed.roles.root.threshold, 3);
      assert.equal(server.count('metadata/3.root.json'), 1);
    } finally {
      c.cleanup();
    }
  });
});

test('tuf-js walks multi-level, terminating and path-hash-prefix delegations as built', async () => {
  const repo = new RepoBuilder({ keyType: 'ecdsa' });
  // Order matters: 'first' is terminating for first/*, so 'shadow' is never consulted for it.
  repo.delegate('targets', 'first', { paths: ['first/*'], terminating: true });
  repo.delegate('targets', 'shadow', { paths: ['first/*', 'shadow/*'] });
  repo.delegate('first', 'first-child', { paths: ['first/deep-*'], keyCount: 2, threshold: 2 });
  repo.addTarget('first/a.txt', 'from first', { role: 'first' });
  repo.addTarget('first/deep-b.txt', 'from child', { role: 'first-child' });
  repo.addTarget('first/c.txt', 'from shadow', { role: 'shadow' });
  repo.addTarget('shadow/d.txt', 'shadow d', { role: 'shadow' });
  const h = createHash('sha256').update('hashed/e.txt').digest('hex');
  repo.delegate('targets', 'by-hash', { pathHashPrefixes: [h.slice(0, 2)] });
  repo.addTarget('hashed/e.txt', 'hashed e', { role: 'by-hash' });
  repo.delegate('targets', 'wrong-hash', { pathHashPrefixes: [(h[0] === '0' ? '1' : '0') + h[1]] });
  repo.addTarget('hashed/f.txt', 'never found', { role: 'wrong-hash' });
  repo.commit();
  await withServer(repo, async (server) => {
    const c = client(repo, server);
    try {
      const u = c.updater();
      await u.refresh();
      for (const [path, body] of [
        ['first/a.txt', 'from first'],
        ['first/deep-b.txt', 'from child'],
        ['shadow/d.txt', 'shadow d'],
        ['hashed/e.txt', 'hashed e'],
      ] as const) {
        const info = await u.getTargetInfo(path);
        assert.ok(info, path);
        assert.equal(readFileSync(await u.downloadTarget(info), 'utf8'), body);
      }
      assert.equal(await u.getTargetInfo('first/c.txt'), undefined, 'terminating delegation hides later roles');
      assert.equal(await u.getTargetInfo('hashed/f.txt'), undefined);
      // '*' does not cross '/': a nested path is not delegated by 'first/*'.
      repo.addTarget('first/x/y.txt', 'nested', { role: 'first' });
      repo.commit();
      assert.equal(await c.updater().getTargetInfo('first/x/y.txt'), undefined);
    } finally {
      c.cleanup();
    }
  });
});

test('tuf-js resolves targets in succinct hash bins placed by the builder', async () => {
  const repo = new RepoBuilder();
  const bins = repo.delegateHashBins('targets', { bitLength: 6, namePrefix: 'bin', keys: poolKeys('ecdsa', 2), threshold: 2 });
  assert.equal(bins.length, 64);
  assert.equal(bins[0], 'bin-00');
  assert.equal(bins[63], 'bin-3f');
  const paths = Array.from({ length: 300 }, (_, i) => `pkgs/p${i}.tgz`);
  for (const p of paths) repo.addBinnedTarget(p, `content of ${p}`);
  repo.commit();
  const snapMeta = (repo.metadata('snapshot').signed as { meta: Record<string, unknown> }).meta;
  assert.equal(Object.keys(snapMeta).length, 65);
  await withServer(repo, async (server) => {
    const c = client(repo, server);
    try {
      const u = c.updater();
      await u.refresh();
      for (const p of [paths[0]!, paths[150]!, paths[299]!]) {
        const info = await u.getTargetInfo(p);
        assert.ok(info, p);
        assert.equal(readFileSync(await u.downloadTarget(info), 'utf8'), `content of ${p}`);
        assert.equal(server.count(repo.metadataRel(repo.binFor(p), 1)), 1, 'the bin tuf-js chose is the one the builder filled');
      }
      assert.equal(await u.getTargetInfo('pkgs/absent.tgz'), undefined);
    } finally {
      c.cleanup();
    }
  });
});

test('a repository published to disk is served by path and accepted', async () => {
  const repo = smallRepo({ keyType: 'ed25519', metadataPath: 'repo/meta', targetsPath: 'repo/files' });
  const dir = mkdtempSync(join(tmpdir(), 'tuf-publish-'));
  try {
    repo.publish(dir);
    assert.ok(existsSync(join(dir, 'repo/meta/1.root.json')));
    assert.ok(existsSync(join(dir, 'repo/meta/timestamp.json')));
    const app = repo.target('app.bin')!;
    assert.ok(existsSync(join(dir, 'repo/files', `${app.hashes['sha512']}.app.bin`)));
    await withServer(dir, async (server) => {
      const c = client(repo, server);
      try {
        const u = c.updater();
        const info = await u.getTargetInfo('team/tool.tgz');
        assert.ok(info);
        assert.equal(readFileSync(await u.downloadTarget(info), 'utf8'), 'tool bytes');
      } finally {
        c.cleanup();
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('everything but signatures is deterministic for a fixed clock and keys', () => {
  const keys = { root: poolKeys('ed25519', 1, 100), timestamp: poolKeys('ed25519', 1, 101), snapshot: poolKeys('ed25519', 1, 102), targets: poolKeys('ed25519', 1, 103) };
  const now = new Date('2030-01-02T03:04:05.678Z');
  const build = (): RepoBuilder => {
    const r = new RepoBuilder({ keys, now });
    r.addTarget('z.txt', 'z');
    r.addTarget('a.txt', 'a', { custom: { b: 1, a: [2] } });
    r.commit();
    return r;
  };
  const a = build();
  const b = build();
  // ed25519 signatures are deterministic too, so whole files match.
  for (const [rel, bytes] of a.entries()) assert.deepEqual(b.get(rel), bytes, rel);
  assert.equal((a.metadata('targets').signed as { expires: string }).expires, '2031-01-02T03:04:05Z');
});

// The attack helpers make repositories that bare tuf-js 6 refuses, each for the reason the attack
// is about: proof that the fixtures are real attacks, not merely broken files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RepoBuilder, startTufServer } from '../fixtures/tuf/index.ts';
import type { RepoOptions, TufServer } from '../fixtures/tuf/index.ts';
import { client, rejectsWith } from './client.ts';
import type { Client } from './client.ts';

interface Ctx {
  repo: RepoBuilder;
  server: TufServer;
  c: Client;
  /** A fresh tuf-js Updater over the client's trusted metadata: refresh(). */
  refresh(): Promise<void>;
}

/** A repository at commit 0 (v1 everywhere), served, and a client that refreshed once. */
async function scenario(opts: RepoOptions, fn: (ctx: Ctx) => Promise<void>, setup?: (repo: RepoBuilder) => void): Promise<void> {
  const repo = new RepoBuilder(opts);
  repo.addTarget('app.bin', 'version 1 of the app');
  setup?.(repo);
  repo.commit();
  const server = await startTufServer(repo);
  const c = client(repo, server);
  try {
    await c.updater().refresh();
    await fn({ repo, server, c, refresh: () => c.updater().refresh() });
  } finally {
    c.cleanup();
    await server.close();
  }
}

function trustedVersion(c: Client, role: string): number {
  return (JSON.parse(readFileSync(join(c.metadataDir, `${role}.json`), 'utf8')) as { signed: { version: number } }).signed.version;
}

// ------------------------------------------------------------------ freeze (expiry)

test('freeze: an expired timestamp is refused with ExpiredMetadataError', async () => {
  await scenario({}, async ({ repo, refresh }) => {
    repo.expire('timestamp');
    repo.commit();
    await rejectsWith(refresh(), 'ExpiredMetadataError', /timestamp/);
  });
});

test('freeze: an expired snapshot, targets, delegated role and root are each refused', async () => {
  for (const role of ['snapshot', 'targets', 'team', 'root'] as const) {
    await scenario(
      {},
      async ({ repo, c, refresh }) => {
        repo.expire(role);
        repo.commit();
        if (role === 'root') {
          await rejectsWith(refresh(), 'ExpiredMetadataError', /root\.json is expired/);
        } else if (role === 'team') {
          await refresh();
          await rejectsWith(c.updater().getTargetInfo('team/x'), 'RuntimeError', /team\.json is expired/);
        } else {
          // tuf-js wraps snapshot/targets failures in RuntimeError carrying the cause.
          await rejectsWith(refresh(), 'RuntimeError', new RegExp(`${role}\\.json is expired`));
        }
      },
      (repo) => {
        repo.delegate('targets', 'team', { paths: ['team/*'] });
      },
    );
  }
});

// ------------------------------------------------------------------ rollback

test('rollback: an old timestamp served again is refused with BadVersionError', async () => {
  await scenario({}, async ({ repo, c, refresh }) => {
    repo.commit(); // timestamp v2
    await refresh();
    assert.equal(trustedVersion(c, 'timestamp'), 2);
    repo.serveRoleVersion('timestamp', 1);
    await rejectsWith(refresh(), 'BadVersionError', /timestamp version 1 is less than current version 2/);
  });
});

test('rollback: the whole repository rolled back to an older commit is refused', async () => {
  await scenario({ consistentSnapshot: false }, async ({ repo, refresh }) => {
    repo.addTarget('app.bin', 'version 2 of the app');
    repo.commit();
    await refresh();
    repo.rollbackTo(0);
    await rejectsWith(refresh(), 'BadVersionError');
  });
});

test('rollback: a newly signed timestamp naming an older snapshot is refused', async () => {
  await scenario({}, async ({ repo, refresh }) => {
    repo.touch('snapshot');
    repo.commit(); // snapshot v2
    await refresh();
    repo.setVersion('snapshot', 1);
    repo.commit();
    await rejectsWith(refresh(), 'BadVersionError', /snapshot version 1 is less than current version 2/);
  });
});

test('rollback: a newly signed snapshot naming an older targets is refused', async () => {
  await scenario({}, async ({ repo, refresh }) => {
    repo.addTarget('b.bin', 'b');
    repo.commit(); // targets v2
    await refresh();
    repo.setVersion('targets', 1);
    repo.commit();
    await rejectsWith(refresh(), 'RuntimeError', /version 1 of targets\.json is less than current version 2/);
  });
});

// ------------------------------------------------------------------ mix-and-match

for (const consistentSnapshot of [true, false]) {
  test(`mix-and-match: old targets served with a new snapshot is refused (consistent=${consistentSnapshot})`, async () => {
    await scenario({ consistentSnapshot }, async ({ repo, refresh }) => {
      repo.addTarget('b.bin', 'b');
      repo.commit(); // targets v2, snapshot v2
      repo.serveRoleVersion('targets', 1);
      await rejectsWith(refresh(), 'RuntimeError', /Version 1 of targets does not match snapshot version 2/);
    });
  });
}

test('mix-and-match: with hashes in snapshot meta the old targets fails the hash check', async () => {
  await scenario({ snapshotMeta: { length: true, hashes: ['sha256'] } }, async ({ repo, refresh }) => {
    repo.addTarget('b.bin', 'b');
    repo.commit();
    repo.serveRoleVersion('targets', 1);
    await rejectsWith(refresh(), 'RuntimeError', /Expected (length|hash)/);
  });
});

// ------------------------------------------------------------------ arbitrary software

test('arbitrary target: bytes that do not match the listed hash or length are refused', async () => {
  await scenario({}, async ({ repo, c }) => {
    const u = c.updater();
    const info = await u.getTargetInfo('app.bin');
    assert.ok(info);
    repo.tamperTarget('app.bin', 'version 1 of the ap!'); // same length: hash check
    await rejectsWith(u.downloadTarget(info), 'LengthOrHashMismatchError', /Expected hash/);
    repo.tamperTarget('app.bin', 'version 1 of the app, and then some more'); // longer: length cap
    await rejectsWith(u.downloadTarget(info), 'DownloadLengthMismatchError');
    assert.deepEqual(readdirSync(c.targetDir), []);
  });
});

test('arbitrary metadata: signatures by the wrong key, too few keys, or a bad signature are refused', async () => {
  await scenario({ keysPerRole: { targets: 2 }, thresholds: { targets: 2 } }, async ({ repo, refresh }) => {
    repo.signWith('timestamp', [repo.newKey()]);
    repo.commit();
    await rejectsWith(refresh(), 'UnsignedMetadataError', /timestamp was signed by 0\/1 keys/);
    repo.signWith('timestamp', undefined);
    repo.signWith('targets', repo.keysOf('targets').slice(0, 1));
    repo.commit();
    await rejectsWith(refresh(), 'RuntimeError', /targets was signed by 1\/2 keys/);
    repo.signWith('targets', undefined);
    repo.mutateEnvelope('snapshot', (env) => {
      const s = env.signatures[0]!;
      s.sig = (s.sig[0] === '0' ? '1' : '0') + s.sig.slice(1);
    });
    repo.commit();
    await rejectsWith(refresh(), 'RuntimeError', /snapshot was signed by 0\/1 keys/);
    repo.mutateEnvelope('snapshot', undefined);
    repo.commit();
    await refresh(); // honest again: accepted
  });
});

// ------------------------------------------------------------------ keys and root rotation

test('root rotation not signed by the old root keys is refused', async () => {
  await scenario({ keysPerRole: { root: 2 }, thresholds: { root: 2 } }, async ({ repo, refresh }) => {
    const newKeys = repo.newKeys(2);
    repo.rotateRoot({ keys: newKeys, threshold: 2, signers: newKeys });
    repo.commit();
    await rejectsWith(refresh(), 'UnsignedMetadataError', /root was signed by 0\/2 keys/);
  });
});

test('root rotation signed by only one of two old keys (old threshold 2) is refused', async () => {
  await scenario({ keysPerRole: { root: 2 }, thresholds: { root: 2 } }, async ({ repo, refresh }) => {
    const old = repo.keysOf('root');
    const newKeys = repo.newKeys(1);
    repo.rotateRoot({ keys: newKeys, threshold: 1, signers: [old[0]!, ...newKeys] });
    repo.commit();
    await rejectsWith(refresh(), 'UnsignedMetadataError', /root was signed by 1\/2 keys/);
  });
});

test('root rotation not signed by the new root keys is refused', async () => {
  await scenario({}, async ({ repo, refresh }) => {
    const old = repo.keysOf('root');
    repo.rotateRoot({ keyCount: 1, signers: old });
    repo.commit();
    await rejectsWith(refresh(), 'UnsignedMetadataError', /root was signed by 0\/1 keys/);
  });
});

test('a revoked key can no longer sign its role', async () => {
  await scenario({ keysPerRole: { targets: 2 } }, async ({ repo, c, refresh }) => {
    const revoked = repo.keysOf('targets')[1]!;
    repo.revokeKey('targets', revoked);
    repo.commit(); // root v2 without the key
    await refresh();
    assert.equal(trustedVersion(c, 'root'), 2);
    repo.signWith('targets', [revoked]);
    repo.addTarget('evil.bin', 'evil');
    repo.commit();
    await rejectsWith(refresh(), 'RuntimeError', /targets was signed by 0\/1 keys/);
  });
});

test('a revoked delegated key can no longer sign the delegated role', async () => {
  await scenario(
    {},
    async ({ repo, refresh, c }) => {
      const [, second] = repo.keysOf('team');
      repo.revokeKey('team', second!);
      repo.commit();
      await refresh();
      repo.signWith('team', [second!]);
      repo.addTarget('team/evil', 'evil', { role: 'team' });
      repo.commit();
      await refresh();
      await rejectsWith(c.updater().getTargetInfo('team/evil'), 'RuntimeError', /team was signed by 0\/1 keys/);
    },
    (repo) => {
      repo.delegate('targets', 'team', { paths: ['team/*'], keyCount: 2 });
    },
  );
});

// ------------------------------------------------------------------ fast-forward

test('fast-forward: a huge timestamp version sticks until the timestamp key is rotated', async () => {
  await scenario({}, async ({ repo, c, refresh }) => {
    repo.setVersion('timestamp', 1_000_000_000); // attacker holding the timestamp key
    repo.commit();
    await refresh();
    assert.equal(trustedVersion(c, 'timestamp'), 1_000_000_000);
    // The repository reverts to a normal version: refused while the old key still rules.
    repo.setVersion('timestamp', 3);
    repo.commit();
    await rejectsWith(refresh(), 'BadVersionError', /less than current version 1000000000/);
    // Recovery: rotate the timestamp key; the fast-forwarded timestamp no longer verifies.
    repo.setRoleKeys('timestamp', repo.newKeys(1));
    repo.setVersion('timestamp', 4);
    repo.commit();
    await refresh();
    assert.equal(trustedVersion(c, 'timestamp'), 4);
  });
});

test('fast-forward: a huge snapshot version is recovered by rotating snapshot and timestamp keys', async () => {
  await scenario({}, async ({ repo, c, refresh }) => {
    repo.setVersion('snapshot', 1_000_000_000);
    repo.commit();
    await refresh();
    assert.equal(trustedVersion(c, 'snapshot'), 1_000_000_000);
    repo.setVersion('snapshot', 3);
    repo.commit();
    await rejectsWith(refresh(), 'BadVersionError', /snapshot version 3 is less than current version 1000000000/);
    repo.setRoleKeys('snapshot', repo.newKeys(1));
    repo.setRoleKeys('timestamp', repo.newKeys(1));
    repo.setVersion('snapshot', 4);
    repo.commit();
    await refresh();
    assert.equal(trustedVersion(c, 'snapshot'), 4);
  });
});

// ------------------------------------------------------------------ hostile target paths

test('escaping target paths are listed verbatim and served only under the repository root', async () => {
  const hostile = ['../escape.txt', '/etc/passwd', 'a/../../b.txt'];
  await scenario(
    {},
    async ({ repo, server, c }) => {
      const listed = Object.keys((repo.metadata('targets').signed as { targets: Record<string, unknown> }).targets);
      assert.deepEqual(listed, ['app.bin', ...hostile]);
      const u = c.updater();
      for (const p of hostile) {
        const rels = repo.targetRels(p);
        for (const rel of rels) assert.ok(!rel.startsWith('/') && !rel.split('/').includes('..'), rel);
        const res = await fetch(server.url + rels[0]!);
        assert.equal(await res.text(), `payload ${p}`);
        // tuf-js asks for exactly the normalised name the builder serves, and (being tuf-js) writes
        // the file inside targetDir under an encoded name.
        const info = await u.getTargetInfo(p);
        assert.ok(info, p);
        const before = server.count(rels[0]!);
        const out = await u.downloadTarget(info);
        assert.equal(server.count(rels[0]!), before + 1);
        assert.equal(join(c.targetDir, encodeURIComponent(p)), out);
      }
    },
    (repo) => {
      for (const p of hostile) repo.addTarget(p, `payload ${p}`);
    },
  );
});

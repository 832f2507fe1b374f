// Hash-bin repositories at benchmark scale: every target lands in the bin tuf-js looks in, every bin
// is published and listed in snapshot, and tuf-js resolves targets spread over all bins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RepoBuilder, startTufServer } from '../fixtures/tuf/index.ts';
import { client } from './client.ts';

test('20,000 targets in 1,024 succinct hash bins: complete, consistent and accepted by tuf-js', async (t) => {
  const t0 = performance.now();
  const repo = new RepoBuilder();
  const bins = repo.delegateHashBins('targets', { bitLength: 10 });
  const paths: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const p = `dist/${i % 97}/pkg-${i}.tgz`;
    paths.push(p);
    repo.addBinnedTarget(p, `bytes of ${p}`, { custom: { i } });
  }
  const r = repo.commit();
  t.diagnostic(`built in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(Object.keys(r.published).length, 4 + 1024); // root, targets, snapshot, timestamp + bins
  assert.equal(bins.length, 1024);
  assert.equal(bins[1023], 'bins-3ff');

  const snapshot = repo.metadata('snapshot').signed as { meta: Record<string, { version: number }> };
  assert.equal(Object.keys(snapshot.meta).length, 1025);
  let listed = 0;
  for (const bin of bins) {
    assert.equal(snapshot.meta[`${bin}.json`]?.version, 1, bin);
    const targets = (repo.metadata(bin).signed as { targets: Record<string, unknown> }).targets;
    for (const p of Object.keys(targets)) assert.equal(repo.binFor(p), bin);
    listed += Object.keys(targets).length;
  }
  assert.equal(listed, paths.length);

  const server = await startTufServer(repo);
  const c = client(repo, server);
  try {
    const u = c.updater();
    await u.refresh();
    for (let i = 0; i < paths.length; i += 1999) {
      const info = await u.getTargetInfo(paths[i]!);
      assert.ok(info, paths[i]);
      assert.deepEqual(info.custom, { i });
      assert.equal(readFileSync(await u.downloadTarget(info), 'utf8'), `bytes of ${paths[i]}`);
    }
  } finally {
    c.cleanup();
    await server.close();
  }
});

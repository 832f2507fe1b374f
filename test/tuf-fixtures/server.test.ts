// The loopback server serves repositories faithfully and misbehaves exactly as asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RepoBuilder, startTufServer } from '../fixtures/tuf/index.ts';
import type { TufServer } from '../fixtures/tuf/index.ts';
import { client, rejectsWith } from './client.ts';

const BODY = Buffer.from('0123456789abcdefghij'); // 20 bytes

async function withServer(fn: (s: TufServer) => Promise<void>, files: Record<string, Uint8Array> = { 'f/a.bin': BODY }): Promise<void> {
  const server = await startTufServer(new Map(Object.entries(files)), { endlessCap: 4 * 1024 * 1024, holdMs: 5000 });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** Reads a response body chunk by chunk; resolves with the chunks or rejects on a broken stream. */
async function chunks(res: Response): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) out.push(Buffer.from(c));
  return out;
}

/** One raw HTTP/1.0 exchange, so request paths reach the server unnormalised. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    s.on('end', () => resolve(Buffer.concat(got).toString('latin1')));
    s.on('error', reject);
    s.write(request);
  });
}

test('serves files, 404s the rest, counts requests per path, answers HEAD, refuses POST', async () => {
  await withServer(async (s) => {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await fetch(s.url + 'f/a.bin');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), '20');
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), BODY);
    assert.equal((await fetch(s.url + 'f/missing')).status, 404);
    const h = await fetch(s.url + 'f/a.bin', { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal((await fetch(s.url + 'f/a.bin', { method: 'POST', body: 'x' })).status, 405);
    assert.equal(s.count('f/a.bin'), 3);
    assert.equal(s.count('/f/a.bin'), 3);
    assert.equal(s.count('f/missing'), 1);
    assert.deepEqual(s.log, ['f/a.bin', 'f/missing', 'f/a.bin', 'f/a.bin']);
    s.resetCounts();
    assert.equal(s.count(), 0);
  });
});

test('status rules apply N times, then the file is served; clear() removes rules', async () => {
  await withServer(async (s) => {
    s.misbehave('f/a.bin', { kind: 'status', status: 500 }, { times: 2 });
    assert.equal((await fetch(s.url + 'f/a.bin')).status, 500);
    assert.equal((await fetch(s.url + 'f/a.bin')).status, 500);
    assert.equal((await fetch(s.url + 'f/a.bin')).status, 200);
    s.misbehave(/\.bin$/, { kind: 'status', status: 404 });
    assert.equal((await fetch(s.url + 'f/a.bin')).status, 404);
    s.clear();
    assert.equal((await fetch(s.url + 'f/a.bin')).status, 200);
    s.misbehave((rel) => rel.startsWith('f/'), { kind: 'body', body: 'other bytes' });
    assert.equal(await (await fetch(s.url + 'f/a.bin')).text(), 'other bytes');
  });
});

test('endless data streams until the client stops reading, and stops at the cap', async () => {
  await withServer(async (s) => {
    s.misbehave('f/a.bin', { kind: 'endless' });
    const ac = new AbortController();
    const res = await fetch(s.url + 'f/a.bin', { signal: ac.signal });
    let n = 0;
    await assert.rejects(async () => {
      for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
        n += c.length;
        if (n > 1024 * 1024) ac.abort();
      }
    });
    assert.ok(n > 1024 * 1024 && n < 4 * 1024 * 1024, String(n));
    s.clear();
    s.misbehave('f/a.bin', { kind: 'endless', cap: 300_000, byte: 0x5a });
    const all = Buffer.concat(await chunks(await fetch(s.url + 'f/a.bin')));
    assert.equal(all.length, 300_000);
    assert.ok(all.every((b) => b === 0x5a));
  });
});

test('slow retrieval drips the real body in many small pieces', async () => {
  await withServer(async (s) => {
    s.misbehave('f/a.bin', { kind: 'slow', intervalMs: 10, bytesPerTick: 1 });
    const parts = await chunks(await fetch(s.url + 'f/a.bin'));
    assert.deepEqual(Buffer.concat(parts), BODY);
    assert.ok(parts.length >= 2, `${parts.length} pieces`);
  });
});

test('a stalled response never completes; the client gives up and close() still returns', async () => {
  const server = await startTufServer(new Map([['f/a.bin', BODY]]));
  server.misbehave('f/a.bin', { kind: 'stall', afterBytes: 7 });
  const ac = new AbortController();
  const res = await fetch(server.url + 'f/a.bin', { signal: ac.signal });
  assert.equal(res.status, 200);
  const got: Buffer[] = [];
  await assert.rejects(async () => {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      got.push(Buffer.from(c));
      // The client gives up a while after the first bytes; nothing more may have arrived by then.
      if (got.length === 1) setTimeout(() => ac.abort(), 150);
    }
  });
  assert.deepEqual(Buffer.concat(got), BODY.subarray(0, 7));
  // A second stalled client is still connected when the server closes: close() must cut it.
  const pending = fetch(server.url + 'f/a.bin').then((r) => chunks(r));
  await new Promise((r) => setTimeout(r, 50));
  await server.close();
  await assert.rejects(pending);
});

test('a dropped connection and a wrong Content-Length break the body', async () => {
  await withServer(async (s) => {
    s.misbehave('f/a.bin', { kind: 'drop', afterBytes: 5 }, { times: 1 });
    const r1 = await fetch(s.url + 'f/a.bin');
    await assert.rejects(chunks(r1));
    s.misbehave('f/a.bin', { kind: 'wrongLength', contentLength: 100 }, { times: 1 });
    await assert.rejects(async () => chunks(await fetch(s.url + 'f/a.bin')));
    s.misbehave('f/a.bin', { kind: 'wrongLength', contentLength: 5 }, { times: 1 });
    assert.equal(await (await fetch(s.url + 'f/a.bin')).text(), '01234');
    assert.deepEqual(Buffer.from(await (await fetch(s.url + 'f/a.bin')).arrayBuffer()), BODY);
  });
});

test('hangup closes the connection without a response; paths may be given decoded', async () => {
  await withServer(
    async (s) => {
      s.misbehave('f/a b.bin', { kind: 'hangup' }, { times: 1 });
      await assert.rejects(fetch(s.url + 'f/a%20b.bin'));
      assert.deepEqual(Buffer.from(await (await fetch(s.url + 'f/a b.bin')).arrayBuffer()), BODY);
      assert.equal(s.count('f/a b.bin'), 2);
      assert.equal(s.count('f/a%20b.bin'), 2);
    },
    { 'f/a%20b.bin': BODY },
  );
});

test('redirects and delays', async () => {
  await withServer(
    async (s) => {
      s.misbehave('f/old.bin', { kind: 'redirect', location: '/f/a.bin', status: 301 });
      const r = await fetch(s.url + 'f/old.bin');
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), BODY);
      assert.equal(s.count('f/old.bin'), 1);
      assert.equal(s.count('f/a.bin'), 1);
      const manual = await fetch(s.url + 'f/old.bin', { redirect: 'manual' });
      assert.equal(manual.status, 301);
      assert.equal(manual.headers.get('location'), '/f/a.bin');
      s.misbehave('f/a.bin', { kind: 'delay', ms: 30 });
      assert.deepEqual(Buffer.from(await (await fetch(s.url + 'f/a.bin')).arrayBuffer()), BODY);
    },
    { 'f/a.bin': BODY },
  );
});

test('a served directory never yields files outside it, whatever the request path', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'tuf-srv-'));
  try {
    writeFileSync(join(parent, 'secret.txt'), 'secret');
    const root = join(parent, 'repo');
    mkdirSync(join(root, 'metadata'), { recursive: true });
    writeFileSync(join(root, 'metadata', 'x.json'), '{}');
    const s = await startTufServer(root);
    try {
      assert.equal(await (await fetch(s.url + 'metadata/x.json')).text(), '{}');
      for (const p of ['/../secret.txt', '/metadata/../../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/metadata/..%2f..%2fsecret.txt', '/metadata', '//secret.txt']) {
        const reply = await raw(s.port, `GET ${p} HTTP/1.0\r\n\r\n`);
        assert.match(reply, /^HTTP\/1\.1 404 /, p);
        assert.doesNotMatch(reply, /secret$/, p);
      }
    } finally {
      await s.close();
    }
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('tuf-js refuses endless metadata and a 500 on the timestamp; a builder repo recovers after', async () => {
  const repo = new RepoBuilder();
  repo.addTarget('a.txt', 'a');
  repo.commit();
  const s = await startTufServer(repo);
  const c = client(repo, s);
  try {
    s.misbehave('metadata/timestamp.json', { kind: 'endless' }, { times: 1 });
    await rejectsWith(c.updater().refresh(), 'DownloadLengthMismatchError', /Max length/);
    s.misbehave('metadata/timestamp.json', { kind: 'status', status: 500 }, { times: 1 });
    await rejectsWith(c.updater().refresh(), 'DownloadHTTPError');
    await c.updater().refresh();
    assert.equal(s.count('metadata/timestamp.json'), 3);
  } finally {
    c.cleanup();
    await s.close();
  }
});

// Target download throughput: tollgate's streaming download (hash checked while bytes arrive,
// written to a staging file, fsynced, renamed into place) against a plain HTTP GET of the same file
// with sha256 computed on the fly, from the same loopback server in the same run. Three peers:
// GET + sha256 + write + fsync (the same durability: the headline ratio), GET + sha256 + write
// without fsync (`curl -o f && sha256sum f`), and GET + sha256 in memory only. On loopback the
// network is as fast as memory, so the fsync of 64 MiB shows fully in the second and third rows;
// on a real link the disk work overlaps the transfer.
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { startTufServer } from '../test/fixtures/tuf/index.ts';
import { HttpFetcher } from '../tuf/fetcher-http.ts';
import { downloadTarget } from '../tuf/download.ts';
import { median, result, type BenchResult } from './lib.ts';

const SIZE = 64 * 1024 * 1024;

function plainGet(url: string, dest: string | undefined, sync: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const h = createHash('sha256');
      const out = dest ? createWriteStream(dest, { flush: sync }) : undefined;
      res.on('data', (c: Buffer) => { h.update(c); out?.write(c); });
      res.on('end', () => {
        if (!out) return resolve(h.digest('hex'));
        out.end();
        finished(out).then(() => resolve(h.digest('hex')), reject);
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}

export async function run(): Promise<BenchResult[]> {
  const data = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const sha512 = createHash('sha512').update(data).digest('hex');
  const server = await startTufServer(new Map([['t/big.bin', data]]));
  const dir = mkdtempSync(join(tmpdir(), 'tg-bench-dl-'));
  const url = server.url + 't/big.bin';
  const fetcher = new HttpFetcher();
  const mbps = (ms: number) => SIZE / 1048576 / (ms / 1000);
  try {
    const ours = async (hashes: Record<string, string>) => {
      const dest = join(dir, 'ours.bin');
      rmSync(dest, { force: true });
      const t = process.hrtime.bigint();
      await downloadTarget({ fetcher, url, info: { path: 'big.bin', length: SIZE, hashes }, dest });
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const peer = async (mode: 'fsync' | 'file' | 'memory') => {
      const dest = mode === 'memory' ? undefined : join(dir, 'peer.bin');
      if (dest) rmSync(dest, { force: true });
      const t = process.hrtime.bigint();
      const h = await plainGet(url, dest, mode === 'fsync');
      if (h !== sha256) throw new Error('peer hash mismatch');
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const o1: number[] = []; const o2: number[] = []; const pSync: number[] = []; const pFile: number[] = []; const pMem: number[] = [];
    await ours({ sha256 }); await peer('fsync');
    // Interleave so all see the same machine load.
    for (let i = 0; i < 7; i++) {
      pSync.push(await peer('fsync'));
      o1.push(await ours({ sha256 }));
      pFile.push(await peer('file'));
      pMem.push(await peer('memory'));
      o2.push(await ours({ sha256, sha512 }));
    }
    const r1 = mbps(median(o1));
    const r2 = mbps(median(o2));
    const sync = mbps(median(pSync));
    return [
      result('target download 64 MiB, sha256 listed', r1, sync, 'HTTP GET + sha256 + write + fsync', 'MiB/s', { text: 'at least 0.9x', met: r1 / sync >= 0.9 }),
      result('target download 64 MiB, sha256+sha512 listed', r2, sync, 'HTTP GET + sha256 + write + fsync', 'MiB/s'),
      result('target download 64 MiB, sha256 listed', r1, mbps(median(pFile)), 'HTTP GET + sha256 + write (no fsync)', 'MiB/s'),
      result('target download 64 MiB, sha256 listed', r1, mbps(median(pMem)), 'HTTP GET + sha256 (no disk)', 'MiB/s'),
    ];
  } finally {
    fetcher.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

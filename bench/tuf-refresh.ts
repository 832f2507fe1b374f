// Refresh of a repository with 100,000 targets in 1,024 succinct hash bins (TAP 15), plus one
// target lookup: tollgate (TPM floors on a real swtpm, fsynced trusted state, time floor) against
// bare tuf-js 6 (Updater with its default fetcher and plain writes), same loopback server, same
// run. Cold: a fresh metadata dir each time (everything is downloaded and verified). Warm: the
// metadata dir from the previous run, repository unchanged (local files re-verified).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { RepoBuilder, startTufServer } from '../test/fixtures/tuf/index.ts';
import { startSwtpm } from '../test/swtpm.ts';
import { openTPM } from '../hardware/index.ts';
import { initDevice, openTargetSession, deviceTPM } from '../tuf/index.ts';
import { median, result, type BenchResult } from './lib.ts';

const TARGETS = 100_000;
const BITS = 10;

export async function run(): Promise<BenchResult[]> {
  const repo = new RepoBuilder({ targetHashes: ['sha256'] });
  repo.delegateHashBins('targets', { bitLength: BITS });
  for (let i = 0; i < TARGETS; i++) repo.addBinnedTarget(`pkgs/p${i}/pkg-${i}.tgz`, `package ${i}`);
  repo.commit();
  const lookFor = 'pkgs/p4242/pkg-4242.tgz';
  const server = await startTufServer(repo);
  const sw = await startSwtpm({ ek: false });
  const tpm = await openTPM(sw.uri);
  const work = mkdtempSync(join(tmpdir(), 'tg-bench-refresh-'));
  const mdUrl = server.base('metadata');
  try {
    const dev = deviceTPM(tpm);
    const seed = join(work, 'seed');
    await initDevice({ stateDir: seed, tpm: dev, repo: server.url, rootBytes: repo.rootBytes() });
    let k = 0;
    const ours = async (dir?: string) => {
      const state = dir ?? join(work, `ours-${k++}`);
      if (!dir) cpSync(seed, state, { recursive: true });
      const t = process.hrtime.bigint();
      const s = await openTargetSession({ stateDir: state, tpm: dev, limits: { retries: 0 } });
      const r = await s.find(lookFor).finally(() => s.close());
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (r?.length !== `package 4242`.length) throw new Error('wrong target');
      return { ms, state };
    };
    const peer = async (dir?: string) => {
      const md = dir ?? join(work, `peer-${k++}`);
      if (!dir) {
        mkdirSync(md, { recursive: true });
        writeFileSync(join(md, 'root.json'), repo.rootBytes());
      }
      const t = process.hrtime.bigint();
      const u = new Updater({ metadataDir: md, metadataBaseUrl: mdUrl });
      await u.refresh();
      const info = await u.getTargetInfo(lookFor);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (!info) throw new Error('peer did not find the target');
      return { ms, md };
    };
    await ours(); await peer();
    const oc: number[] = []; const pc: number[] = []; const ow: number[] = []; const pw: number[] = [];
    for (let i = 0; i < 7; i++) {
      const p = await peer(); pc.push(p.ms);
      const o = await ours(); oc.push(o.ms);
      pw.push((await peer(p.md)).ms);
      ow.push((await ours(o.state)).ms);
      rmSync(p.md, { recursive: true, force: true });
      rmSync(o.state, { recursive: true, force: true });
    }
    const cold = median(oc); const coldPeer = median(pc);
    const warm = median(ow); const warmPeer = median(pw);
    return [
      result(`cold refresh + lookup, ${TARGETS} targets in ${2 ** BITS} hash bins`, cold, coldPeer, 'tuf-js 6 Updater', 'ms', { text: 'at most 1.10x', met: cold / coldPeer <= 1.1 }),
      result(`warm refresh + lookup (cached metadata), ${TARGETS} targets`, warm, warmPeer, 'tuf-js 6 Updater', 'ms'),
    ];
  } finally {
    await tpm.close().catch(() => undefined);
    await sw.stop();
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
}

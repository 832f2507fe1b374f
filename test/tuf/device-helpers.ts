// Shared set-up for device-mode TUF tests: one real swtpm per test file, a fresh NV anchor base
// per device (so tests stay independent on one TPM), a repository served on loopback, and a
// snapshot of the state dir to prove that a refused update wrote nothing.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { openTPM, type TPM } from '../../hardware/index.ts';
import { RepoBuilder, startTufServer, type RepoOptions, type TufServer } from '../fixtures/tuf/index.ts';
import { initDevice, updateDevice, deviceTPM, type DeviceTPM } from '../../tuf/index.ts';
import type { FetchLimits } from '../../tuf/fetcher.ts';
import { fetchTarget } from './fetch-target.ts';

export interface Lab { sw: Swtpm; tpm: TPM; dev: DeviceTPM; work: string; nextBase(): number; close(): Promise<void> }

export async function startLab(): Promise<Lab> {
  const sw = await startSwtpm({ ek: false });
  const tpm = await openTPM(sw.uri);
  const work = mkdtempSync(join(tmpdir(), 'tg-tuf-'));
  let k = 0;
  return {
    sw, tpm, dev: deviceTPM(tpm), work,
    // Each device gets its own anchor + counters + epoch handles (stride 0x40 covers 16 epochs).
    nextBase: () => 0x01500020 + 0x40 * k++,
    async close() {
      await tpm.close().catch(() => undefined);
      await sw.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

export const FAST: Partial<FetchLimits> = { retries: 0, readTimeoutMs: 1500, graceMs: 300, minBytesPerSecond: 2000, backoffMs: 10 };

export interface Device {
  repo: RepoBuilder;
  server: TufServer;
  state: string;
  out: string;
  base: number;
  update(o?: { nowMs?: number; bundle?: string; limits?: Partial<FetchLimits> }): ReturnType<typeof updateDevice>;
  fetch(target: string, o?: { nowMs?: number; bundle?: string; out?: string; limits?: Partial<FetchLimits> }): ReturnType<typeof fetchTarget>;
  close(): Promise<void>;
}

let devN = 0;

/** A repository with `app.bin`, a device initialised against it (not yet updated). */
export async function newDevice(lab: Lab, opts: RepoOptions & { setup?: (r: RepoBuilder) => void } = {}): Promise<Device> {
  const repo = new RepoBuilder(opts);
  repo.addTarget('app.bin', Buffer.from('application v1'));
  opts.setup?.(repo);
  repo.commit();
  const server = await startTufServer(repo, { holdMs: 3000 });
  const d = join(lab.work, `dev${devN++}`);
  const state = join(d, 'state');
  const out = join(d, 'out');
  const base = lab.nextBase();
  await initDevice({ stateDir: state, tpm: lab.dev, repo: server.url, rootBytes: repo.rootBytes(), anchorHandle: base });
  mkdirSync(out, { recursive: true });
  return {
    repo, server, state, out, base,
    update: (o = {}) => updateDevice({ stateDir: state, tpm: lab.dev, limits: o.limits ?? FAST, ...(o.nowMs !== undefined ? { nowMs: o.nowMs } : {}), ...(o.bundle ? { bundle: o.bundle } : {}) }),
    fetch: (target, o = {}) => fetchTarget({
      stateDir: state, tpm: lab.dev, target, out: o.out ?? join(out, 'target.bin'), limits: o.limits ?? FAST,
      ...(o.nowMs !== undefined ? { nowMs: o.nowMs } : {}), ...(o.bundle ? { bundle: o.bundle } : {}),
    }),
    close: () => server.close(),
  };
}

/** Every file under `dir` with its bytes (relative path → hex), to compare before/after. */
export function snapshotDir(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    let names: string[];
    try { names = readdirSync(p); } catch { return; }
    for (const n of names) {
      const f = join(p, n);
      if (statSync(f).isDirectory()) walk(f);
      else out.set(relative(dir, f), readFileSync(f).toString('hex'));
    }
  };
  walk(dir);
  return out;
}

export function copyDir(src: string, dst: string): void {
  rmSync(dst, { recursive: true, force: true });
  cpSync(src, dst, { recursive: true });
}

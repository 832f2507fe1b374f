// Timing helpers for benchmarks: in-process timing with hrtime and wall time of child processes.
// Every benchmark reports its figure next to a peer measured in the same run, as a ratio.
import { spawnSync } from 'node:child_process';

export interface BenchResult {
  name: string;
  /** Our figure, in `unit`. */
  ours: number;
  /** The peer's figure, in `unit`, measured in the same run. */
  peer: number;
  peerName: string;
  unit: string;
  /** ours / peer. */
  ratio: number;
  /** The target in words, e.g. 'under 150 ms' or 'within 1.2x of the raw floor'. */
  target?: string;
  /** Whether the target was met (set whenever `target` is). */
  met?: boolean;
}

export interface Timing { median: number; min: number; max: number; samples: number[] }

export function median(samples: number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  const s = [...samples].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function stats(samples: number[]): Timing {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
}

/** Times `fn` in-process, in milliseconds per call. */
export async function timeIt(fn: () => unknown | Promise<unknown>, opts: { warmup?: number; iterations?: number } = {}): Promise<Timing> {
  const { warmup = 5, iterations = 50 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return stats(samples);
}

/** Wall time of running a command to completion, in milliseconds, over `n` runs (after 2 warm-up runs). */
export function wallTime(cmd: string, args: string[], n: number, opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Timing {
  const once = () => {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: 'ignore', env: opts.env ?? process.env, cwd: opts.cwd });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}`);
    return ms;
  };
  once();
  once();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(once());
  return stats(samples);
}

export function result(name: string, ours: number, peer: number, peerName: string, unit: string,
  target?: { text: string; met: boolean }): BenchResult {
  return { name, ours, peer, peerName, unit, ratio: ours / peer, ...(target ? { target: target.text, met: target.met } : {}) };
}

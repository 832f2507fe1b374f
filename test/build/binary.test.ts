// The single binary (dist/tollgate, built by `npm test` before the suites run) copied to a temp
// dir with no node_modules anywhere above it and run with a minimal environment.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import pkg from '../../package.json' with { type: 'json' };
import { commands } from '../../agent/commands/index.ts';
import { parseSBOMBytes } from '../../attest/sbom/index.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';

const DIST = join(import.meta.dirname, '..', '..', 'dist');
let dir = '';
let bin = '';

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(bin, args, { cwd: dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  assert.ok(existsSync(join(DIST, 'tollgate')), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
  dir = mkdtempSync(join(tmpdir(), 'tollgate-bin-'));
  bin = join(dir, 'tollgate');
  copyFileSync(join(DIST, 'tollgate'), bin);
  spawnSync('chmod', ['+x', bin]);
  assert.ok(!existsSync(join(dir, 'node_modules')));
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('dist/tollgate (single executable)', () => {
  it('--version prints the version bundled at build time', () => {
    const r = run(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `tollgate ${pkg.version}\n`);
    assert.equal(r.stderr, '', 'no experimental-feature warning or other noise');
    assert.deepEqual(JSON.parse(run(['--version', '--json']).stdout), { version: pkg.version });
  });

  it('--help lists the global options and exit codes', () => {
    const r = run(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: tollgate <command> \[options\]/);
    assert.match(r.stdout, /--tpm URI/);
    assert.match(r.stdout, /Exit codes: 0 ok\/allowed, 1 denied/);
  });

  it('a usage error exits 2 with a sentence naming the option', () => {
    const r = run(['--no-such-option']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^tollgate: CLI_UNKNOWN_OPTION: unknown option --no-such-option .*--help/);
  });

  it('--json errors are one JSON document on stdout', () => {
    const r = run(['--json', 'definitely-not-a-command']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, '');
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'CLI_UNKNOWN_COMMAND');
    assert.equal(typeof doc.error.message, 'string');
  });

  it('loads every registered command module: <command> --help works for each', () => {
    assert.ok(commands.length > 0, 'no commands registered');
    for (const c of commands) {
      const r = run([...c.path, '--help']);
      assert.equal(r.code, 0, `${c.path.join(' ')} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: tollgate ${c.path.join(' ')}`), c.path.join(' '));
      assert.ok(r.stdout.includes(c.summary), c.path.join(' '));
    }
  });

  it('a command run without its required argument exits 2 from inside the binary', () => {
    const r = run(['verify']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^tollgate: CLI_MISSING_ARGUMENT: 'tollgate verify' needs /);
  });

  it('ignores NODE_OPTIONS (execArgvExtension "none"): the environment cannot inject code', () => {
    const r = run(['--version'], { NODE_OPTIONS: `--require ${join(dir, 'does-not-exist.js')}` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `tollgate ${pkg.version}\n`);
  });

  it('node options on the command line reach tollgate, not Node', () => {
    const r = run(['--eval=process.exit(0)']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option --eval/);
  });
});

describe('dist/tollgate against a software TPM', () => {
  let tpm: Swtpm | undefined;
  let qdir = '';
  before(async () => {
    tpm = await startSwtpm();
    qdir = mkdtempSync(join(tmpdir(), 'tollgate-binq-'));
  });
  after(async () => {
    await tpm?.stop();
    if (qdir) rmSync(qdir, { recursive: true, force: true });
  });

  it('tpm info, provision, quote and verify-quote work with no node_modules; tpm2_checkquote accepts the quote', () => {
    const env = { TOLLGATE_TPM: tpm!.uri };
    const info = run(['tpm', 'info', '--json'], env);
    assert.equal(info.code, 0, info.stderr);
    const doc = JSON.parse(info.stdout) as { manufacturer: string; pcrBanks: Array<{ bank: string }> };
    assert.equal(doc.manufacturer, 'IBM');
    assert.ok(doc.pcrBanks.some((b) => b.bank === 'sha256'));

    const prov = run(['tpm', 'provision', '--json', '--state', join(qdir, 'state')], env);
    assert.equal(prov.code, 0, prov.stderr);
    const nonce = '5eed0a11c0ffee';
    const q = run(['tpm', 'quote', '--nonce', nonce, '--pcrs', 'sha256:0,1,2,3,4,5,6,7,16', '--out', qdir], env);
    assert.equal(q.code, 0, q.stderr);
    const f = (n: string) => join(qdir, n);
    const check = (hex: string) => spawnSync('tpm2_checkquote', ['-u', f('ak.pub.pem'), '-m', f('quote.msg'), '-s', f('quote.sig'),
      '-f', f('quote.pcrs'), '-g', 'sha256', '-q', hex], { encoding: 'utf8' }).status;
    assert.equal(check(nonce), 0);
    assert.notEqual(check('5eed0a11c0fff0'), 0);
    const args = (hex: string) => ['tpm', 'verify-quote', '--ak', f('ak.pub.pem'), '--msg', f('quote.msg'), '--sig', f('quote.sig'), '--pcrs', f('quote.pcrs'), '--nonce', hex];
    assert.equal(run(args(nonce)).code, 0);
    assert.equal(run(args('5eed0a11c0fff0')).code, 1);
  });

  it('a malformed --tpm is a usage error (2); a TPM that is not there is an environment failure (3)', async () => {
    const bad = run(['tpm', 'info', '--tpm', 'bogus:1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /TPM_URI_INVALID/);
    const gone = await startSwtpm({ ek: false });
    const uri = gone.uri;
    await gone.stop();
    const r = run(['tpm', 'info', '--json', '--tpm', uri]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.equal(typeof (JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'string');
  });
});

describe('dist/tollgate.cjs (the bundle inside the binary)', () => {
  it('--version and --help initialise no TPM, network or crypto modules (command modules load lazily)', () => {
    const pre = join(dir, 'loaded.cjs');
    writeFileSync(pre, `const base = new Set(process.moduleLoadList);
process.on('exit', () => { require('fs').writeSync(2, '\\n@@' + JSON.stringify(process.moduleLoadList.filter((m) => !base.has(m)))); });`);
    // Output goes to files: a pipe would itself load node:net for process.stdout.
    const loadedBy = (args: string[]) => {
      const out = join(dir, 'out.txt');
      const err = join(dir, 'err.txt');
      const fds = [openSync(out, 'w'), openSync(err, 'w')];
      const r = spawnSync(process.execPath, ['-r', pre, join(DIST, 'tollgate.cjs'), ...args], { stdio: ['ignore', fds[0]!, fds[1]!], cwd: dir });
      fds.forEach((fd) => closeSync(fd));
      const text = readFileSync(err, 'utf8');
      return { code: r.status, loaded: JSON.parse(text.slice(text.lastIndexOf('@@') + 2)) as string[] };
    };
    for (const args of [['--version'], ['--help']]) {
      const { code, loaded } = loadedBy(args);
      assert.equal(code, 0);
      for (const m of ['net', 'crypto', 'async_hooks', 'http', 'https', 'tls']) {
        assert.ok(!loaded.includes(`NativeModule ${m}`), `${args.join(' ')} loaded node:${m}: something initialises eagerly`);
      }
    }
    // The same probe sees them when a TPM command runs, so it can tell the difference.
    const tpm = loadedBy(['tpm', 'info', '--tpm', 'bogus:1']);
    assert.equal(tpm.code, 2);
    assert.ok(tpm.loaded.includes('NativeModule net'));
  });
});

describe('dist/tollgate.cdx.json and dist/tollgate.intoto.json', () => {
  const digest = () => createHash('sha256').update(readFileSync(join(DIST, 'tollgate'))).digest('hex');

  it('provenance names the binary by its SHA-256 and the package-lock as a material', () => {
    const st = JSON.parse(readFileSync(join(DIST, 'tollgate.intoto.json'), 'utf8'));
    assert.equal(st._type, 'https://in-toto.io/Statement/v1');
    assert.equal(st.predicateType, 'https://slsa.dev/provenance/v1');
    assert.deepEqual(st.subject, [{ name: 'tollgate', digest: { sha256: digest() } }]);
    const lock = createHash('sha256').update(readFileSync(join(DIST, '..', 'package-lock.json'))).digest('hex');
    const deps = st.predicate.buildDefinition.resolvedDependencies as Array<{ uri: string; digest: Record<string, string> }>;
    assert.equal(deps.find((d) => d.uri === 'package-lock.json')?.digest.sha256, lock);
    const main = deps.find((d) => d.uri === 'agent/main.ts');
    assert.equal(main?.digest.sha256, createHash('sha256').update(readFileSync(join(DIST, '..', 'agent', 'main.ts'))).digest('hex'));
    assert.equal(st.predicate.runDetails.builder.id, 'local');
  });

  it('the SBOM describes the binary and lists exactly the npm packages in the bundle', () => {
    const bom = JSON.parse(readFileSync(join(DIST, 'tollgate.cdx.json'), 'utf8'));
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    assert.match(bom.serialNumber, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(bom.metadata.component.hashes, [{ alg: 'SHA-256', content: digest() }]);
    assert.equal(bom.metadata.component.version, pkg.version);
    const meta = JSON.parse(readFileSync(join(DIST, 'tollgate.meta.json'), 'utf8'));
    const names = new Set<string>();
    for (const out of Object.values(meta.outputs) as Array<{ inputs: Record<string, { bytesInOutput: number }> }>) {
      for (const [input, info] of Object.entries(out.inputs)) {
        const m = input.match(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/[^]*$/);
        if (m && info.bytesInOutput > 0 && !input.includes('/node_modules/', input.indexOf(m[1]!))) names.add(m[1]!);
      }
    }
    const libs = (bom.components as Array<{ type: string; name: string; purl: string; version: string }>).filter((c) => c.type === 'library');
    assert.deepEqual(new Set(libs.map((c) => c.name)), names);
    for (const c of libs) assert.equal(c.purl, `pkg:npm/${c.name.replace(/^@/, '%40')}@${c.version}`);
    const node = bom.components.find((c: { name: string }) => c.name === 'node');
    assert.equal(node.version, process.versions.node);
  });

  it('the SBOM passes our own SBOM parser, which validates against the CycloneDX 1.6 schema', () => {
    const doc = parseSBOMBytes(readFileSync(join(DIST, 'tollgate.cdx.json')), { source: 'dist/tollgate.cdx.json' });
    assert.equal(doc.format, 'cyclonedx');
    assert.equal(doc.specVersion, '1.6');
    assert.equal(doc.described[0]?.name, 'tollgate');
    assert.ok(doc.components.some((c) => c.name === 'node'));
  });
});

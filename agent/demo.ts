// `npm run demo`: a guided run of tollgate against a private software TPM. It prints numbered
// steps in plain words, runs each tollgate command as a child process (`node agent/main.ts`, or
// the built binary with `--binary`) with TOLLGATE_TPM pointing at the swtpm, and always stops the
// swtpm and removes its state at the end.
//
// This is a developer script, not part of the binary (esbuild bundles agent/main.ts only), which
// is why it may reuse the test harness's swtpm launcher and system-package installer from test/.
// Product code must never import from test/.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSystemPackages } from '../test/system.ts';
import { startSwtpm, type Swtpm } from '../test/swtpm.ts';

const ROOT = join(import.meta.dirname, '..');

export interface RunResult { code: number; stdout: string; stderr: string }

export interface DemoContext {
  tpm: Swtpm;
  /** A scratch directory for this run, removed at the end. */
  work: string;
  /** Runs `tollgate ARGS` against the demo TPM, shows the command and its output, and returns it. */
  tollgate(args: string[], opts?: { expect?: number; quiet?: boolean }): RunResult;
  /** Runs another program (e.g. tpm2_checkquote) the same way; TPM2TOOLS_TCTI points at the swtpm. */
  exec(cmd: string, args: string[], opts?: { expect?: number; quiet?: boolean }): RunResult;
  /** Prints an explanation line under the current step. */
  say(text: string): void;
}

export interface DemoStep {
  /** What the step does, in plain words (printed as the step's heading). */
  title: string;
  /** Only steps whose command modules exist run (the team adds commands as they land). */
  available: () => boolean;
  run(d: DemoContext): Promise<void> | void;
}

const hasCommand = (name: string) => () => existsSync(join(ROOT, 'agent', 'commands', `${name}.ts`));

/** The steps, in order. Later issues append to this list. */
const NONCE = randomBytes(16).toString('hex');
const PCRS = 'sha256:0,1,2,3,4,5,6,7,16';
// Paths are relative to the demo's scratch directory, the working directory of every command.
const QUOTE_FILES = ['ak.pub.pem', 'quote.msg', 'quote.sig', 'quote.pcrs'].map((f) => `quote/${f}`) as [string, string, string, string];

export const steps: DemoStep[] = [
  {
    title: 'Ask the TPM what it is: manufacturer, firmware, PCR banks, EK certificates',
    available: hasCommand('tpm'),
    run(d) {
      d.tollgate(['tpm', 'info']);
    },
  },
  {
    title: 'Provision the keys tollgate needs: endorsement key, storage key, attestation key (AK), device key',
    available: hasCommand('tpm'),
    run(d) {
      d.say('The AK signs quotes; it is a restricted key, so it only signs data the TPM itself produced.');
      d.tollgate(['tpm', 'provision']);
      d.say('Running it again creates nothing (no [created] marks): provisioning is idempotent.');
      d.tollgate(['tpm', 'provision']);
    },
  },
  {
    title: 'Quote the PCRs: the TPM signs their current values together with a fresh random nonce',
    available: hasCommand('tpm'),
    run(d) {
      d.tollgate(['tpm', 'quote', '--nonce', NONCE, '--pcrs', PCRS, '--out', 'quote']);
    },
  },
  {
    title: 'Verify the quote twice: with tollgate (pure TypeScript) and with tpm2-tools',
    available: hasCommand('tpm'),
    run(d) {
      const [ak, msg, sig, pcrs] = QUOTE_FILES;
      d.tollgate(['tpm', 'verify-quote', '--ak', ak, '--msg', msg, '--sig', sig, '--pcrs', pcrs, '--nonce', NONCE]);
      d.exec('tpm2_checkquote', ['-u', ak, '-m', msg, '-s', sig, '-f', pcrs, '-g', 'sha256', '-q', NONCE], { quiet: true });
      d.say('tpm2_checkquote accepted it too.');
      const other = randomBytes(16).toString('hex');
      d.say('A verifier that sent a different nonce must refuse it (this is what stops replay):');
      d.tollgate(['tpm', 'verify-quote', '--ak', ak, '--msg', msg, '--sig', sig, '--pcrs', pcrs, '--nonce', other], { expect: 1 });
    },
  },
];

class StepFailed extends Error {}

function indent(text: string): string {
  return text.trimEnd().split('\n').map((l) => `      ${l}`).join('\n');
}

function makeContext(tpm: Swtpm, work: string, useBinary: boolean): DemoContext {
  const env = { ...process.env, TOLLGATE_TPM: tpm.uri, TPM2TOOLS_TCTI: tpm.tcti };
  const show = (label: string, args: string[], r: RunResult, quiet: boolean) => {
    console.log(`    $ ${label} ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`);
    if (!quiet && r.stdout.trim()) console.log(indent(r.stdout));
    if (r.stderr.trim()) console.log(indent(r.stderr));
  };
  const exec = (label: string, cmd: string, cmdArgs: string[], shown: string[], opts: { expect?: number; quiet?: boolean } = {}) => {
    const p = spawnSync(cmd, cmdArgs, { encoding: 'utf8', env, cwd: work, timeout: 120_000 });
    const r: RunResult = { code: p.status ?? -1, stdout: p.stdout ?? '', stderr: p.stderr ?? (p.error ? String(p.error) : '') };
    show(label, shown, r, opts.quiet === true);
    const expect = opts.expect ?? 0;
    if (r.code !== expect) throw new StepFailed(`'${label} ${shown.join(' ')}' exited ${r.code}, expected ${expect}`);
    return r;
  };
  return {
    tpm, work,
    tollgate(args, opts) {
      return useBinary
        ? exec('tollgate', join(ROOT, 'dist', 'tollgate'), args, args, opts)
        : exec('tollgate', process.execPath, [join(ROOT, 'agent', 'main.ts'), ...args], args, opts);
    },
    exec(cmd, args, opts) { return exec(cmd, cmd, args, args, opts); },
    say(text) { console.log(`    ${text}`); },
  };
}

async function main(): Promise<number> {
  const useBinary = process.argv.includes('--binary');
  console.log('tollgate demo\n');
  ensureSystemPackages((s) => console.log(s));
  if (useBinary) {
    const b = spawnSync(process.execPath, [join(ROOT, 'build', 'build.ts')], { stdio: 'inherit' });
    if (b.status !== 0) return 1;
  }
  console.log('Starting a private software TPM (swtpm) on 127.0.0.1 with a fresh, throwaway state; its');
  console.log('endorsement key certificate comes from a local test CA. No real TPM is touched.');
  const tpm = await startSwtpm();
  const work = mkdtempSync(join(tmpdir(), 'tollgate-demo-'));
  const stop = async () => { await tpm.stop(); rmSync(work, { recursive: true, force: true }); };
  const onSignal = () => { void stop().then(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  console.log(`The software TPM listens at ${tpm.uri}; every command below gets it through TOLLGATE_TPM.\n`);
  let failed = false;
  try {
    const d = makeContext(tpm, work, useBinary);
    const ready = steps.filter((s) => s.available());
    if (ready.length === 0) console.log('No demo steps are available yet: the TPM commands are still being built.');
    let n = 0;
    for (const step of ready) {
      console.log(`[${++n}] ${step.title}`);
      await step.run(d);
      console.log('');
    }
    const skipped = steps.length - ready.length;
    if (skipped > 0) console.log(`(${skipped} step${skipped === 1 ? '' : 's'} skipped: their commands are not built yet.)`);
  } catch (e) {
    failed = true;
    console.log(`\nThe demo stopped: ${e instanceof Error ? e.message : String(e)}`);
    if (!(e instanceof StepFailed) && e instanceof Error && e.stack) console.log(e.stack);
  } finally {
    await stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    console.log('Stopped the software TPM and removed its state.');
  }
  return failed ? 1 : 0;
}

if (import.meta.main) main().then((code) => process.exit(code), (e: unknown) => { console.error(e); process.exit(1); });

// `npm run demo`: a guided run of tollgate against a private software TPM. It prints numbered
// steps in plain words, runs each tollgate command as a child process (`node agent/main.ts`, or
// the built binary with `--binary`) with TOLLGATE_TPM pointing at the swtpm, and always stops the
// swtpm and the loopback TUF server and removes their state at the end. Commands run
// asynchronously: the TUF server lives in this process and must keep answering.
//
// This is a developer script, not part of the binary (esbuild bundles agent/main.ts only), which
// is why it may reuse the test harness's swtpm launcher and system-package installer from test/.
// Product code must never import from test/.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSystemPackages } from '../test/system.ts';
import { startSwtpm, type Swtpm } from '../test/swtpm.ts';
import { startTufServer } from '../test/fixtures/tuf/index.ts';
import { gateRepo, OSV_TARGET, POLICY_TARGET } from '../test/fixtures/gate/index.ts';
import { ALG, T, buildTCGLog, expectedPCRs, extendedDigest, typicalBoot } from '../test/fixtures/eventlog/builder.ts';
import { openTPM } from '../hardware/index.ts';

const ROOT = join(import.meta.dirname, '..');

export interface RunResult { code: number; stdout: string; stderr: string }

export interface DemoContext {
  tpm: Swtpm;
  /** A scratch directory for this run, removed at the end. */
  work: string;
  /** Runs `tollgate ARGS` against the demo TPM, shows the command and its output, and returns it. */
  tollgate(args: string[], opts?: { expect?: number; quiet?: boolean }): Promise<RunResult>;
  /** Runs another program (e.g. tpm2_checkquote) the same way; TPM2TOOLS_TCTI points at the swtpm. */
  exec(cmd: string, args: string[], opts?: { expect?: number; quiet?: boolean }): Promise<RunResult>;
  /** Prints an explanation line under the current step. */
  say(text: string): void;
  /** Registers something to stop at the end, success or not (servers). */
  onCleanup(fn: () => Promise<void> | void): void;
  /** Values steps hand to later steps (e.g. the repository URL). */
  shared: Record<string, string>;
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

const hasGate = () => hasCommand('tuf')() && existsSync(join(ROOT, 'agent', 'gate.ts'));
const hasAttest = () => hasCommand('attest')() && hasCommand('appraise')();
const GOOD = 'widget-2.0.0.tar';
const OLD = 'widget-1.9.0.tar';

export const steps: DemoStep[] = [
  {
    title: 'Ask the TPM what it is: manufacturer, firmware, PCR banks, EK certificates',
    available: hasCommand('tpm'),
    async run(d) {
      await d.tollgate(['tpm', 'info']);
    },
  },
  {
    title: 'Provision the keys tollgate needs: endorsement key, storage key, attestation key (AK), device key',
    available: hasCommand('tpm'),
    async run(d) {
      d.say('The AK signs quotes; it is a restricted key, so it only signs data the TPM itself produced.');
      d.say('The storage key\'s Name is recorded in state/tpm.json: later sessions are salted only to that key.');
      await d.tollgate(['tpm', 'provision', '--state', 'state']);
      d.say('Running it again creates nothing (no [created] marks): provisioning is idempotent.');
      await d.tollgate(['tpm', 'provision', '--state', 'state']);
    },
  },
  {
    title: 'Publish a small TUF repository (two releases, their evidence, a policy, a vulnerability database) and serve it on 127.0.0.1',
    available: hasGate,
    async run(d) {
      const g = await gateRepo();
      await g.addArtifact(GOOD, Buffer.from('widget 2.0.0: the current release\n'));
      await g.addArtifact(OLD, Buffer.from('widget 1.9.0: an old release\n'), { lodash: '4.17.20', sbomAs: 'intoto' });
      g.repo.commit();
      const dir = join(d.work, 'repository');
      g.repo.publish(dir);
      const server = await startTufServer(dir);
      d.onCleanup(() => server.close());
      writeFileSync(join(d.work, 'root.json'), g.repo.rootBytes());
      d.shared.repo = server.url;
      d.shared.rootSha256 = createHash('sha256').update(g.repo.rootBytes()).digest('hex');
      d.say(`Written to ${dir} and served at ${server.url}. Its targets, all listed in signed TUF metadata:`);
      const rows: Array<[string, string]> = [
        [`${GOOD}, ${OLD}`, "two releases; each one's TUF custom metadata names its evidence files"],
        ['<release>.provenance.json', 'SLSA provenance: who built it, from which source (DSSE, signed by the release key)'],
        [`${GOOD}.cdx.json`, 'its CycloneDX SBOM: lodash 4.17.21, MIT licence'],
        [`${OLD}.sbom.intoto.json`, 'its SBOM as a signed in-toto statement: lodash 4.17.20'],
        [POLICY_TARGET, 'the policy: release key, builder, source repo and branch, licences, at most "medium"'],
        [OSV_TARGET, 'an OSV vulnerability database: lodash before 4.17.21 is critical'],
      ];
      const w = Math.max(...rows.map(([a]) => a.length));
      for (const [a, b] of rows) d.say(`  ${a.padEnd(w)}  ${b}`);
    },
  },
  {
    title: "Pin the repository's root of trust: tollgate init writes its digest into a write-locked TPM NV index",
    available: hasGate,
    async run(d) {
      await d.tollgate(['init', '--repo', d.shared.repo!, '--root', 'root.json', '--root-sha256', d.shared.rootSha256!, '--state', 'state']);
      d.say('From now on a root.json swapped on disk no longer matches the digest the TPM holds, and is refused.');
    },
  },
  {
    title: 'Fetch the signed metadata: tollgate update raises the TPM rollback floor to the new versions',
    available: hasGate,
    async run(d) {
      await d.tollgate(['update', '--state', 'state']);
      d.say('Metadata older than this floor is refused later, even if someone restores an old copy of the state directory.');
    },
  },
  {
    title: `Install the current release: tollgate fetch ${GOOD} downloads it and its evidence, and checks everything before installing`,
    available: hasGate,
    async run(d) {
      await d.tollgate(['fetch', GOOD, '--out', `installed/${GOOD}`, '--vsa-out', `installed/${GOOD}.vsa.json`, '--state', 'state']);
      const vsa = JSON.parse(readFileSync(join(d.work, 'installed', `${GOOD}.vsa.json`), 'utf8')) as { predicate: { verificationResult: string; policy: { uri: string } } };
      d.say('Decision: ALLOW. TUF vouched for every file; the provenance was signed by the release key and built by the expected');
      d.say('builder from acme/widget on main; the SBOM describes exactly these bytes, its licences are allowed, and no');
      d.say(`component has a known vulnerability. The verification summary (SLSA VSA) says ${vsa.predicate.verificationResult}, under policy ${vsa.predicate.policy.uri}.`);
    },
  },
  {
    title: `Try the old release: its SBOM lists lodash 4.17.20, which has a critical vulnerability, so the gate denies it`,
    available: hasGate,
    async run(d) {
      const r = await d.tollgate(['fetch', OLD, '--out', `installed/${OLD}`, '--state', 'state'], { expect: 1 });
      for (const line of r.stdout.split('\n').filter((l) => l.startsWith('FAIL'))) d.say(`Why: ${line.replace(/^FAIL\s+[^:]+:\s*/, '')}`);
      d.say(`Decision: DENY (exit code 1). installed/ holds only: ${readdirSync(join(d.work, 'installed')).sort().join(', ')}`);
      d.say('The old release was downloaded into a private staging directory, checked, and thrown away; nothing reached installed/.');
    },
  },
  {
    title: 'Quote the PCRs: the TPM signs their current values together with a fresh random nonce',
    available: hasCommand('tpm'),
    async run(d) {
      await d.tollgate(['tpm', 'quote', '--nonce', NONCE, '--pcrs', PCRS, '--out', 'quote']);
    },
  },
  {
    title: 'Verify the quote twice: with tollgate (pure TypeScript) and with tpm2-tools',
    available: hasCommand('tpm'),
    async run(d) {
      const [ak, msg, sig, pcrs] = QUOTE_FILES;
      await d.tollgate(['tpm', 'verify-quote', '--ak', ak, '--msg', msg, '--sig', sig, '--pcrs', pcrs, '--nonce', NONCE]);
      await d.exec('tpm2_checkquote', ['-u', ak, '-m', msg, '-s', sig, '-f', pcrs, '-g', 'sha256', '-q', NONCE], { quiet: true });
      d.say('tpm2_checkquote accepted it too.');
      const other = randomBytes(16).toString('hex');
      d.say('A verifier that sent a different nonce must refuse it (this is what stops replay):');
      await d.tollgate(['tpm', 'verify-quote', '--ak', ak, '--msg', msg, '--sig', sig, '--pcrs', pcrs, '--nonce', other], { expect: 1 });
    },
  },
  {
    title: 'Attest and appraise: enrol the device with a verifier, send evidence for a fresh nonce, and get an affirming result',
    available: hasAttest,
    async run(d) {
      await prepareAttestation(d);
      const nonce = randomBytes(32).toString('hex');
      d.say(`The verifier issues a fresh nonce (${nonce.slice(0, 16)}…). The device answers with evidence: an EAT whose TPM quote`);
      d.say('binds the nonce and every claim (PCRs, the boot log, what the gate installed), signed by the device key:');
      await d.tollgate(['attest', '--nonce', nonce, '--out', 'evidence.cbor', '--event-log', 'boot-log.bin', '--state', 'state']);
      await d.tollgate(['attest', '--show', 'evidence.cbor']);
      d.say('The verifier appraises it against the enrolment record and its reference values (no TPM needed) and signs the result:');
      await d.tollgate(['appraise', 'evidence.cbor', '--device', 'device.json', '--nonce', nonce, '--reference', 'reference.json',
        '--key', 'verifier.pem', '--out', 'ear.jwt', '--state-out', 'appraisal-state.json']);
      d.say('ear.jwt is the EAR (draft-ietf-rats-ear) signed with the verifier\'s key: any relying party can check it with the public key.');
    },
  },
  {
    title: 'Change a PCR behind the verifier\'s back, attest again: the appraisal is contraindicated and names the PCR',
    available: hasAttest,
    async run(d) {
      d.say('Something extends PCR 7 (where Secure Boot policy is measured) without logging it, as tampered firmware might:');
      await d.exec('tpm2_pcrextend', [`7:sha256=${createHash('sha256').update('unlogged change').digest('hex')}`]);
      const nonce = randomBytes(32).toString('hex');
      await d.tollgate(['attest', '--nonce', nonce, '--out', 'evidence-2.cbor', '--event-log', 'boot-log.bin', '--state', 'state'], { quiet: true });
      const r = await d.tollgate(['appraise', 'evidence-2.cbor', '--device', 'device.json', '--nonce', nonce, '--reference', 'reference.json',
        '--previous', 'appraisal-state.json'], { expect: 1, quiet: true });
      const lines = r.stdout.split('\n');
      d.say(lines[0]!);
      lines.forEach((l, i) => {
        if (!l.trimStart().startsWith('FAIL')) return;
        d.say(l);
        for (let j = i + 1; j < lines.length && /^\s+(expected|actual):/.test(lines[j]!); j++) d.say(lines[j]!);
      });
      d.say('Exit code 1. The quote vouches for the new PCR 7 value, and neither the boot log nor the reference values account for it.');
    },
  },
];

/** Enrolment with the verifier, a measured boot, and the verifier's inputs: reference values and signing key. */
async function prepareAttestation(d: DemoContext): Promise<void> {
  d.say('First the device enrols with the verifier (two round trips; TPM2_ActivateCredential proves the AK is in the TPM whose EK');
  d.say('the vendor certified; the swtpm\'s EK certificate comes from its local test CA, which the verifier is told to trust):');
  const ca = ['issuercert.pem', 'swtpm-localca-rootca-cert.pem'].flatMap((f) => ['--ek-ca', join(d.tpm.caDir, f)]);
  await d.tollgate(['enroll', 'request', '--out', 'enrol/request.json', '--hostname', 'demo-device'], { quiet: true });
  await d.tollgate(['appraise', 'enroll', 'enrol/request.json', '--state', 'verifier', '--out', 'enrol/challenge.json', ...ca], { quiet: true });
  const id = (JSON.parse(readFileSync(join(d.work, 'enrol', 'challenge.json'), 'utf8')) as { enrolmentId: string }).enrolmentId;
  await d.tollgate(['enroll', 'activate', 'enrol/challenge.json', '--out', 'enrol/proof.json'], { quiet: true });
  await d.tollgate(['appraise', 'enroll', '--finish', 'enrol/proof.json', '--enrolment-id', id, '--state', 'verifier', '--out', 'device.json']);
  // swtpm has no firmware: extend a synthesised measured boot into it, as firmware would, and keep
  // its log where the kernel would expose it (here a file the device sends).
  const boot = typicalBoot({ seed: 'demo' });
  const banks = [ALG.SHA1, ALG.SHA256];
  writeFileSync(join(d.work, 'boot-log.bin'), buildTCGLog(boot, { banks }));
  const tpm = await openTPM(d.tpm.uri);
  try {
    for (const e of boot) if (e.type !== T.NO_ACTION) await tpm.pcrExtend(e.pcr, banks.map((b) => ({ hashAlg: b, digest: extendedDigest(e, b) })));
  } finally {
    await tpm.close();
  }
  d.say('A measured boot was extended into the software TPM (it has no firmware) and its log written to boot-log.bin.');
  const pcr7 = expectedPCRs(boot, banks).get(`${ALG.SHA256}:7`)!.toString('hex');
  const reference = {
    version: 1,
    policyId: 'demo-fleet/1',
    ekRoots: ['IBM (swtpm)'],
    pcrs: { 'sha256:7': [pcr7] },
    eventLog: { secureBoot: 'required' },
    ...(d.shared.repo ? { software: { mustInclude: [{ target: GOOD }], mustNotInclude: [{ target: OLD }] } } : {}),
  };
  writeFileSync(join(d.work, 'reference.json'), JSON.stringify(reference, null, 2) + '\n');
  d.say('Reference values (reference.json), the acceptable set of machines:');
  for (const l of JSON.stringify(reference, null, 2).split('\n')) d.say(`  ${l}`);
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(d.work, 'verifier.pem'), k.privateKey.export({ type: 'pkcs8', format: 'pem' }));
}

class StepFailed extends Error {}

function indent(text: string): string {
  return text.trimEnd().split('\n').map((l) => `      ${l}`).join('\n');
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, cwd, timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    p.on('error', (e) => resolve({ code: -1, stdout, stderr: stderr + String(e) }));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function makeContext(tpm: Swtpm, work: string, useBinary: boolean, cleanups: Array<() => Promise<void> | void>): DemoContext {
  const env = { ...process.env, TOLLGATE_TPM: tpm.uri, TPM2TOOLS_TCTI: tpm.tcti };
  const show = (label: string, args: string[], r: RunResult, quiet: boolean) => {
    console.log(`    $ ${label} ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`);
    if (!quiet && r.stdout.trim()) console.log(indent(r.stdout));
    if (r.stderr.trim()) console.log(indent(r.stderr));
  };
  const exec = async (label: string, cmd: string, cmdArgs: string[], shown: string[], opts: { expect?: number; quiet?: boolean } = {}) => {
    const r = await run(cmd, cmdArgs, env, work);
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
    onCleanup(fn) { cleanups.push(fn); },
    shared: {},
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
  const cleanups: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const fn of cleanups.splice(0).reverse()) await Promise.resolve().then(fn).catch(() => undefined);
    await tpm.stop();
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = () => { void stop().then(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  console.log(`The software TPM listens at ${tpm.uri}; every command below gets it through TOLLGATE_TPM.\n`);
  let failed = false;
  try {
    const d = makeContext(tpm, work, useBinary, cleanups);
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
    console.log('Stopped the TUF server and the software TPM, and removed their state.');
  }
  return failed ? 1 : 0;
}

if (import.meta.main) main().then((code) => process.exit(code), (e: unknown) => { console.error(e); process.exit(1); });

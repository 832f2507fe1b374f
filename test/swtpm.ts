// swtpm harness for tests, the demo and benchmarks: a private swtpm per caller on free loopback
// ports, with its own state dir (manufactured by swtpm_setup with a private swtpm-localca, so it has
// EK certificates), stopped by PID. Nothing here talks TPM commands: bring-up (INIT, Startup) is
// the job of hardware/, which the tests exercise through it.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, cpSync, rmSync, existsSync, renameSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Swtpm {
  /** `swtpm:127.0.0.1:PORT`, for `--tpm` / TOLLGATE_TPM. */
  uri: string;
  /** TCTI string for tpm2-tools (`swtpm:host=127.0.0.1,port=N`). */
  tcti: string;
  port: number;
  ctrlPort: number;
  stateDir: string;
  /** Directory of the private swtpm-localca (issuercert.pem, swtpm-localca-rootca-cert.pem). */
  caDir: string;
  pid: number;
  /** Stops swtpm by PID (SIGTERM, then SIGKILL) and removes its state unless keep is set. */
  stop(opts?: { keep?: boolean }): Promise<void>;
  /** Kills swtpm without shutdown (a TPM that dies mid-command). */
  kill(): void;
}

export interface SwtpmOptions {
  /** Manufacture with EK + EK certificates (swtpm_setup + swtpm-localca). Default true. */
  ek?: boolean;
  /** Reuse this state dir instead of a fresh one (restart after stop({keep:true})). */
  stateDir?: string;
}

const ROOT = join(tmpdir(), 'tollgate-swtpm');

function freePortPair(): Promise<number> {
  return new Promise((resolve, reject) => {
    const tryOnce = (attempt: number) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => {
          if (port >= 65535) return attempt < 20 ? tryOnce(attempt + 1) : reject(new Error('no free port pair'));
          const t = createServer();
          t.once('error', () => (attempt < 20 ? tryOnce(attempt + 1) : reject(new Error('no free port pair'))));
          t.listen(port + 1, '127.0.0.1', () => t.close(() => resolve(port)));
        });
      });
    };
    tryOnce(0);
  });
}

/**
 * Manufactured state is made once per machine-wide cache dir and copied, since swtpm_setup costs ~1 s.
 * Test files run two at a time, so on a fresh machine two processes build it at once: each builds a
 * complete template in a private dir next to the cache and publishes it with one rename(2), which is
 * atomic and fails if the cache dir already exists. So the cache dir exists only ever complete, and
 * its EK certificates always match its CA (a copy-in-place could mix two builds or be seen half-done).
 */
function manufacturedState(): { template: string; caDir: string } {
  const base = join(ROOT, 'template-v2');
  const template = join(base, 'state');
  const caDir = join(base, 'ca');
  if (existsSync(base)) return { template, caDir };
  mkdirSync(ROOT, { recursive: true });
  const work = mkdtempSync(join(ROOT, 'building-'));
  try {
    const wState = join(work, 'state');
    const wCa = join(work, 'ca');
    mkdirSync(wState, { recursive: true });
    mkdirSync(wCa, { recursive: true });
    writeFileSync(join(work, 'localca.conf'), [
      `statedir = ${wCa}`, `signingkey = ${wCa}/signkey.pem`, `issuercert = ${wCa}/issuercert.pem`, `certserial = ${wCa}/certserial`, '',
    ].join('\n'));
    writeFileSync(join(work, 'localca.options'), '--platform-manufacturer tollgate\n--platform-version 2.1\n--platform-model test\n');
    writeFileSync(join(work, 'setup.conf'), [
      'create_certs_tool = /usr/bin/swtpm_localca', `create_certs_tool_config = ${work}/localca.conf`,
      `create_certs_tool_options = ${work}/localca.options`, 'active_pcr_banks = sha256,sha1', '',
    ].join('\n'));
    execFileSync('swtpm_setup', ['--tpm2', '--tpmstate', wState, '--createek', '--create-ek-cert', '--create-platform-cert',
      '--config', join(work, 'setup.conf'), '--overwrite', '--pcr-banks', 'sha1,sha256'], { stdio: 'pipe' });
    try {
      renameSync(work, base);
    } catch (e) {
      // Another process published first (ENOTEMPTY/EEXIST); its template is as good as ours.
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !existsSync(base)) throw e;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { template, caDir };
}

export async function startSwtpm(opts: SwtpmOptions = {}): Promise<Swtpm> {
  mkdirSync(ROOT, { recursive: true });
  let stateDir = opts.stateDir;
  let caDir = '';
  if (!stateDir) {
    stateDir = mkdtempSync(join(ROOT, 'run-'));
    if (opts.ek !== false) {
      const m = manufacturedState();
      cpSync(m.template, stateDir, { recursive: true });
      caDir = m.caDir;
    }
  } else if (opts.ek !== false) {
    caDir = manufacturedState().caDir;
  }
  const sd = stateDir;
  for (let attempt = 0; ; attempt++) {
    const port = await freePortPair();
    // No --flags: swtpm starts needing INIT, so every user exercises hardware/'s bring-up.
    const child: ChildProcess = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${sd}`,
      '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${port + 1},bindaddr=127.0.0.1`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    const ready = await waitListening(port, child);
    if (!ready) {
      child.kill('SIGKILL');
      if (attempt < 5) continue;
      throw new Error(`swtpm did not start: ${stderr.trim()}`);
    }
    child.unref();
    (child.stderr as unknown as { unref?: () => void })?.unref?.();
    const pid = child.pid!;
    let stopped = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    return {
      uri: `swtpm:127.0.0.1:${port}`, tcti: `swtpm:host=127.0.0.1,port=${port}`, port, ctrlPort: port + 1,
      stateDir: sd, caDir, pid,
      kill() { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } },
      async stop(o = {}) {
        if (!stopped) {
          stopped = true;
          try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
          const t = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 2000);
          await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
          clearTimeout(t);
        }
        if (!o.keep) rmSync(sd, { recursive: true, force: true });
      },
    };
  }
}

async function waitListening(port: number, child: ChildProcess): Promise<boolean> {
  const { connect } = await import('node:net');
  let dead = false;
  child.once('exit', () => { dead = true; });
  for (let i = 0; i < 100 && !dead; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: port + 1 });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

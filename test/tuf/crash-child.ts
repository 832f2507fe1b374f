// Child process for the crash-safety test: one `init` (TUF only, or the gate's init), `update` or
// `fetch` against the state dir and TPM given in the environment. The parent SIGKILLs it at a
// random moment, or it kills itself at the N-th crash point (TOLLGATE_CRASH_AT, see tuf/atomic.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openTPM } from '../../hardware/index.ts';
import { initDevice, updateDevice, deviceTPM } from '../../tuf/index.ts';
import { fetchTarget } from './fetch-target.ts';
import { initGate } from '../../agent/init.ts';

const env = process.env;
const tpm = await openTPM(env.TG_TPM!);
try {
  const dev = deviceTPM(tpm);
  const limits = { retries: 0 };
  if (env.TG_GATE_INIT_ROOT) {
    // `tollgate init` as the CLI runs it: gate.json, then the TUF state.
    const stateRoot = env.TG_STATE_ROOT!;
    await initGate({
      stateRoot, gate: { layout: 1, policyTarget: env.TG_POLICY ?? null, osvTarget: null, trustedRootTarget: null },
      device: { stateDir: join(stateRoot, 'tuf'), tpm: dev, repo: 'http://127.0.0.1:9/', rootBytes: readFileSync(env.TG_GATE_INIT_ROOT), anchorHandle: Number(env.TG_BASE) },
    });
  } else if (env.TG_INIT_ROOT) {
    await initDevice({ stateDir: env.TG_STATE!, tpm: dev, repo: 'http://127.0.0.1:9/', rootBytes: readFileSync(env.TG_INIT_ROOT), anchorHandle: Number(env.TG_BASE) });
  } else if (env.TG_TARGET) {
    await fetchTarget({ stateDir: env.TG_STATE!, tpm: dev, target: env.TG_TARGET, out: env.TG_OUT!, limits });
  } else {
    await updateDevice({ stateDir: env.TG_STATE!, tpm: dev, limits });
  }
  process.stdout.write('done\n');
} finally {
  await tpm.close();
}

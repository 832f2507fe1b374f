// The swtpm a hardware test file runs against. Normally a private one (startSwtpm). When
// TOLLGATE_TEST_SWTPM=swtpm:127.0.0.1:PORT is set, the file uses that already running swtpm
// instead and never stops or kills it: suite-leaks.test.ts runs the hardware test files one after
// another against ONE swtpm this way and then checks that nothing transient was left in it.
// Files that kill or freeze their swtpm (faults.test.ts) always start their own.
import { startSwtpm, type Swtpm } from '../swtpm.ts';

export const SHARED_SWTPM_ENV = 'TOLLGATE_TEST_SWTPM';

export function sharedSwtpmURI(): string | undefined {
  const v = process.env[SHARED_SWTPM_ENV];
  return v === undefined || v === '' ? undefined : v;
}

export async function hardwareSwtpm(): Promise<Swtpm> {
  const uri = sharedSwtpmURI();
  if (!uri) return startSwtpm();
  const m = /^swtpm:127\.0\.0\.1:(\d+)$/.exec(uri);
  if (!m) throw new Error(`${SHARED_SWTPM_ENV} must be swtpm:127.0.0.1:PORT, not ${uri}`);
  const port = Number(m[1]);
  return {
    uri, tcti: `swtpm:host=127.0.0.1,port=${port}`, port, ctrlPort: port + 1, stateDir: '', caDir: '', pid: 0,
    // Shared: the driver owns it.
    async stop() { /* not ours */ },
    kill() { throw new Error('a test tried to kill the shared swtpm; such tests must start their own'); },
  };
}

// Installs the system packages the tests and the demo need (swtpm, swtpm-tools, tpm2-tools;
// strace for one test) when they are missing, so that `npm test` and `npm run demo` work on a fresh
// Debian machine as root.
import { execFileSync, spawnSync } from 'node:child_process';

const NEEDED: Array<{ bin: string; pkg: string }> = [
  { bin: 'swtpm', pkg: 'swtpm' },
  { bin: 'swtpm_setup', pkg: 'swtpm-tools' },
  { bin: 'swtpm_localca', pkg: 'swtpm-tools' },
  { bin: 'tpm2_quote', pkg: 'tpm2-tools' },
  // test/tuf/fetch-durable.test.ts checks the order of fsync and rename system calls with it.
  { bin: 'strace', pkg: 'strace' },
];

function has(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

export function ensureSystemPackages(log: (s: string) => void = (s) => process.stderr.write(s + '\n')): void {
  const missing = [...new Set(NEEDED.filter((n) => !has(n.bin)).map((n) => n.pkg))];
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing system packages: ${missing.join(' ')}; install them with: sudo apt-get install -y ${missing.join(' ')}`);
  }
  log(`installing system packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}

if (import.meta.main) ensureSystemPackages();

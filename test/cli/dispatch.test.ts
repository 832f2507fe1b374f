// The real entry point as a child process (node agent/main.ts): exit codes, where output goes,
// and that the process ends by itself.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };

const MAIN = join(import.meta.dirname, '..', '..', 'agent', 'main.ts');

function tollgate(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('node agent/main.ts', () => {
  it('--version prints the package version and exits 0', () => {
    const r = tollgate(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `tollgate ${pkg.version}\n`);
    assert.equal(r.stderr, '');
  });

  it('--help prints help on stdout and exits 0', () => {
    const r = tollgate(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^tollgate \d+\.\d+\.\d+: roots trust in a TPM 2\.0/);
    assert.match(r.stdout, /Usage: tollgate <command> \[options\]/);
    assert.equal(tollgate(['-h']).stdout, r.stdout);
  });

  it('an unknown option exits 2 with a sentence naming it', () => {
    const r = tollgate(['--frobnicate']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, "tollgate: CLI_UNKNOWN_OPTION: unknown option --frobnicate for 'tollgate'; run 'tollgate --help' to see the options it takes.\n");
  });

  it('an unknown command exits 2, as a JSON error document under --json', () => {
    const r = tollgate(['--json', 'no-such-command']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, '');
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'CLI_UNKNOWN_COMMAND');
    assert.match(doc.error.message, /unknown command 'no-such-command'/);
  });

  it('no arguments exits 2 with help on stderr', () => {
    const r = tollgate([]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /Usage: tollgate/);
  });
});

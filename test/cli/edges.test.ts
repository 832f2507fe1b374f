// CLI edges through the single binary: a repeated single-valued option, --json=VALUE, the
// conformance client's errors, TARGET names no repository can list, and output paths that cannot
// be files. Each is a usage error (exit 2, or the conformance protocol's 1) reported before the
// TPM, the network or the disk is touched (no TPM answers at the port these runs are given).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryPresent, describeRun, runAll } from './binary-harness.ts';
import { runCli } from '../../agent/cli.ts';
import { commands as tufCommands } from '../../agent/commands/tuf.ts';
import { registryOf } from './harness.ts';

let dir = '';
const p = (name: string): string => join(dir, name);

before(() => {
  assert.ok(binaryPresent(), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
  dir = mkdtempSync(join(tmpdir(), 'tg-edges-'));
  writeFileSync(p('art'), 'artifact');
  writeFileSync(p('policy.json'), '{"version":1}');
  mkdirSync(p('existing-dir'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a repeated single-valued option is a usage error, not last-wins', () => {
  it('names the option, for command and global options, and creates nothing', async () => {
    const cases = [
      ['verify', p('art'), '--policy', p('policy.json'), '--policy', p('other.json')],
      ['tpm', 'quote', '--nonce', 'ab', '--pcrs', 'sha256:0', '--out', p('q1'), '--out', p('q2')],
      ['fetch', 'app.bin', '--out', p('o1'), '--out=' + p('o2'), '--state', p('state')],
      ['--tpm', 'swtpm:127.0.0.1:1', 'tpm', 'info', '--tpm', 'swtpm:127.0.0.1:2'],
    ];
    const runs = await runAll(cases.map((args) => ({ args: [...args, '--json'] })));
    runs.forEach((r) => {
      assert.equal(r.code, 2, describeRun(r));
      assert.equal(r.json?.error?.code, 'CLI_OPTION_REPEATED', describeRun(r));
      assert.match(r.json.error.message, /option --(policy|out|tpm) was given more than once .*; give it once\./);
    });
    for (const f of ['q1', 'q2', 'o1', 'o2', 'state']) assert.equal(existsSync(p(f)), false, `${f} was created`);
  });

  it('repeatable options still take every value', async () => {
    const [r] = await runAll([{ args: ['verify', p('art'), '--policy', p('policy.json'), '--vex', p('missing-a.json'), '--vex', p('missing-b.json'), '--json'] }]);
    assert.equal(r!.json?.error?.code, 'INPUT_NOT_FOUND', describeRun(r!));
  });
});

describe('--json with a value', () => {
  it('--json=1, =true, =false, = and =yes are refused as one JSON error document', async () => {
    const spellings = ['--json=1', '--json=true', '--json=false', '--json=', '--json=yes'];
    const runs = await runAll([
      ...spellings.map((j) => ({ args: ['verify', p('art'), j] })),
      { args: ['--json=1'] },
      { args: ['tpm', 'info', '--json=0'] },
    ]);
    for (const r of runs) {
      assert.equal(r.code, 2, describeRun(r));
      assert.equal(r.stderr, '', describeRun(r));
      assert.equal(r.json?.error?.code, 'CLI_OPTION_VALUE', describeRun(r));
      assert.match(r.json.error.message, /option --json takes no value; write just --json/);
    }
  });
});

describe('conformance tuf reports errors with their code', () => {
  it('a missing required option prints CODE: message (exit 1, the protocol\'s failure)', async () => {
    const [t, j, n] = await runAll([
      { args: ['conformance', 'tuf', 'refresh'] },
      { args: ['conformance', 'tuf', 'refresh', '--json'] },
      { args: ['conformance', 'tuf'] },
    ]);
    assert.equal(t!.code, 1, describeRun(t!));
    assert.equal(t!.stderr, 'tollgate: CLI_MISSING_OPTION: --metadata-dir is required.\n');
    assert.equal(j!.code, 1, describeRun(j!));
    assert.deepEqual(j!.json, { ok: false, error: { code: 'CLI_MISSING_OPTION', message: '--metadata-dir is required.' } });
    assert.match(n!.stderr, /^tollgate: CLI_MISSING_OPTION: /, describeRun(n!));
  });
});

describe('TARGET names that no repository can list are usage errors', () => {
  it('absolute, "..", empty, "." and backslash names exit 2 before the TPM is opened', async () => {
    const names = ['/etc/passwd', '../escape', 'a/../../b', '', './app.bin', 'a\\b'];
    const runs = await runAll(names.map((t) => ({ args: ['fetch', t, '--out', p('out'), '--state', p('state'), '--json'] })));
    runs.forEach((r) => {
      assert.equal(r.code, 2, describeRun(r));
      assert.equal(r.json?.error?.code, 'TUF_TARGET_PATH_INVALID', describeRun(r));
      assert.match(r.json.error.message, /cannot be a TUF target path/);
    });
    assert.equal(existsSync(p('state')), false);
  });

  it('a NUL in TARGET (only possible in-process: argv cannot carry one) exits 2', async () => {
    let out = '';
    const code = await runCli(['fetch', 'app\0.bin', '--out', p('out'), '--state', p('state'), '--json'], {
      stdout: (s) => { out += s; }, stderr: () => {}, env: { TOLLGATE_TPM: 'swtpm:127.0.0.1:1' }, cwd: dir, tty: false,
    }, registryOf(tufCommands));
    assert.equal(code, 2, out);
    assert.equal(JSON.parse(out).error.code, 'TUF_TARGET_PATH_INVALID');
  });
});

describe('output paths that cannot be written as asked', () => {
  it('--out / and other non-files are refused before anything is created', async () => {
    const rootBefore = readdirSync('/');
    const cases: Array<[string[], RegExp]> = [
      [['fetch', 'app.bin', '--out', '/', '--state', p('state')], /--out "\/" is a directory/],
      [['fetch', 'app.bin', '--out', p('existing-dir'), '--state', p('state')], /is a directory/],
      [['fetch', 'app.bin', '--out', p('new-dir') + '/', '--state', p('state')], /cannot name a file/],
      [['fetch', 'app.bin', '--out', p('x') + '/..', '--state', p('state')], /is a directory|cannot name a file/],
      [['fetch', 'app.bin', '--out', p('o'), '--vsa-out', '/', '--state', p('state')], /--vsa-out "\/" is a directory/],
      [['bundle', 'create', '--repo', p('repo'), '--targets', '**', '--out', '/'], /--out "\/" is a directory/],
      [['verify', p('art'), '--policy', p('policy.json'), '--vsa-out', '/'], /--vsa-out "\/" is a directory/],
      [['tpm', 'quote', '--nonce', 'ab', '--pcrs', 'sha256:0', '--out', '/'], /--out "\/" is the filesystem root/],
      [['tpm', 'quote', '--nonce', 'ab', '--pcrs', 'sha256:0', '--out', p('art')], /exists and is not a directory/],
      [['tpm', 'provision', '--out', '/'], /--out "\/" is the filesystem root/],
    ];
    const runs = await runAll(cases.map(([args]) => ({ args: [...args, '--json'] })));
    runs.forEach((r, i) => {
      assert.equal(r.code, 2, describeRun(r));
      assert.equal(r.json?.error?.code, 'CLI_OUTPUT_INVALID', describeRun(r));
      assert.match(r.json.error.message, cases[i]![1]);
    });
    assert.deepEqual(readdirSync('/'), rootBefore, 'something was created in /');
    for (const f of ['state', 'new-dir', 'x', 'o']) assert.equal(existsSync(p(f)), false, `${f} was created`);
  });
});

// The dispatcher in-process, against fixture command specs: command lookup, option parsing,
// positionals, --json output, error → exit code mapping, help.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TollgateError } from '../../hardware/index.ts';
import type { CommandSpec } from '../../agent/command.ts';
import { cli, registryOf } from './harness.ts';

const echo: CommandSpec = {
  path: ['demo', 'echo'],
  summary: 'Echo what was parsed.',
  options: {
    nonce: { type: 'string', valueName: 'HEX', description: 'A nonce.' },
    pcrs: { type: 'string', multiple: true, valueName: 'LIST', description: 'PCR selections.' },
    verbose: { type: 'boolean', short: 'v', description: 'Say more.' },
    out: { type: 'string', short: 'o', valueName: 'DIR', description: 'Output directory.' },
  },
  positionals: [{ name: 'file', required: true }, { name: 'extra', required: false }],
  async run(ctx) {
    ctx.info('working on it');
    ctx.result({ values: ctx.values, positionals: ctx.positionals, tpmEnv: ctx.env.TOLLGATE_TPM ?? null },
      `echo ${ctx.positionals.join(' ')}`);
  },
};
const demo: CommandSpec = {
  path: ['demo'], summary: 'The short command.', options: {}, positionals: [{ name: 'words', required: false, variadic: true }],
  async run(ctx) { ctx.result({ short: true, positionals: ctx.positionals }, 'short'); },
};
const pass: CommandSpec = {
  path: ['conformance', 'x'], summary: 'Pass-through.', passThrough: true,
  options: { 'metadata-dir': { type: 'string', valueName: 'DIR', description: 'Where metadata lives.' } },
  async run(ctx) { ctx.result({ values: ctx.values, positionals: ctx.positionals }, ctx.positionals.join('|')); },
};
const denied: CommandSpec = {
  path: ['fail', 'denied'], summary: 'Denies.', options: {},
  async run() { throw new TollgateError('POLICY_DENY', 'the artifact is not allowed by policy.', 'denied', { details: { rule: 'r1' } }); },
};
const env: CommandSpec = {
  path: ['fail', 'env'], summary: 'TPM gone.', options: {},
  async run() { throw new TollgateError('TPM_UNREACHABLE', 'no TPM answered at swtpm:127.0.0.1:1.', 'environment'); },
};
const crash: CommandSpec = {
  path: ['fail', 'crash'], summary: 'Crashes.', options: {},
  async run() { throw new RangeError('index out of range in frobnicator'); },
};
const exitOne: CommandSpec = {
  path: ['fail', 'code'], summary: 'Returns 1.', options: {},
  async run(ctx) { ctx.result({ allowed: false }, 'denied'); return 1; },
};
const twice: CommandSpec = {
  path: ['fail', 'twice'], summary: 'Reports twice.', options: {},
  async run(ctx) { ctx.result({ a: 1 }, 'a'); ctx.result({ b: 2 }, 'b'); },
};
const registry = registryOf([echo, demo, pass, denied, env, crash, exitOne, twice]);

function json(s: string): Record<string, any> {
  return JSON.parse(s) as Record<string, any>;
}

describe('command lookup', () => {
  it('picks the longest matching path', async () => {
    const r = await cli(['demo', 'echo', 'f.txt', '--json'], registry);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).positionals, ['f.txt']);
    const s = await cli(['demo', 'other', 'words', '--json'], registry);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(json(s.stdout), { short: true, positionals: ['other', 'words'] });
  });

  it('accepts global options before the command words', async () => {
    const r = await cli(['--json', '--tpm', 'swtpm:127.0.0.1:2321', 'demo', 'echo', 'f'], registry);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).values.tpm, 'swtpm:127.0.0.1:2321');
  });

  it('names an unknown command and exits 2', async () => {
    const r = await cli(['frobnicate'], registry);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^tollgate: CLI_UNKNOWN_COMMAND: unknown command 'frobnicate'; run 'tollgate --help'/);
  });

  it('names an unknown subcommand and lists the ones that exist', async () => {
    const r = await cli(['fail', 'nope'], registry);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown subcommand 'nope' for 'tollgate fail'; it has: denied, env, crash, code, twice\./);
  });

  it('asks for a subcommand when only a group is named, and --help shows the group', async () => {
    const r = await cli(['fail'], registry);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /CLI_MISSING_SUBCOMMAND: 'tollgate fail' needs a subcommand: denied, env/);
    const h = await cli(['fail', '--help'], registry);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Usage: tollgate fail <subcommand>/);
    assert.match(h.stdout, /fail crash +Crashes\./);
  });

  it('without a command prints help on stderr and exits 2', async () => {
    const r = await cli([], registry);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /Usage: tollgate <command>/);
    assert.match(r.stderr, /CLI_NO_COMMAND/);
  });
});

describe('options', () => {
  it('parses strings, repeatable strings, booleans and short flags', async () => {
    const r = await cli(['demo', 'echo', '--nonce', 'ab', '--pcrs=sha256:0', '--pcrs', 'sha1:1', '-v', '-o', 'out', 'f', 'g', '--json'], registry);
    assert.equal(r.code, 0, r.stderr);
    const d = json(r.stdout);
    assert.deepEqual(d.values, { nonce: 'ab', pcrs: ['sha256:0', 'sha1:1'], verbose: true, out: 'out', json: true });
    assert.deepEqual(d.positionals, ['f', 'g']);
  });

  it('rejects an unknown option, naming it and pointing to --help', async () => {
    const r = await cli(['demo', 'echo', 'f', '--nonse', 'ab'], registry);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "tollgate: CLI_UNKNOWN_OPTION: unknown option --nonse for 'tollgate demo echo'; run 'tollgate demo echo --help' to see the options it takes.\n");
    const s = await cli(['demo', 'echo', 'f', '-x'], registry);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /unknown option -x/);
  });

  it('rejects a long-only option spelled as a short flag', async () => {
    const r = await cli(['demo', 'echo', 'f', '-n', 'ab'], registry);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option -n/);
  });

  it('rejects a string option without a value, and one swallowing the next option', async () => {
    for (const argv of [['demo', 'echo', 'f', '--nonce'], ['demo', 'echo', 'f', '--nonce', '--verbose']]) {
      const r = await cli(argv, registry);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, /CLI_OPTION_VALUE: option --nonce needs a value: --nonce HEX/);
    }
    const ok = await cli(['demo', 'echo', 'f', '--nonce=-x', '--json'], registry);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(json(ok.stdout).values.nonce, '-x');
  });

  it('rejects a value given to a boolean option', async () => {
    const r = await cli(['demo', 'echo', 'f', '--verbose=yes'], registry);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /option --verbose takes no value/);
  });

  it('treats everything after -- as positionals', async () => {
    const r = await cli(['demo', 'echo', '--json', '--', '--verbose'], registry);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout).positionals, ['--verbose']);
  });

  it('--tpm wins over TOLLGATE_TPM and is handed on in ctx.env', async () => {
    const a = await cli(['demo', 'echo', 'f', '--json'], registry, { TOLLGATE_TPM: 'device:/dev/tpmrm0' });
    assert.equal(json(a.stdout).values.tpm, 'device:/dev/tpmrm0');
    const b = await cli(['demo', 'echo', 'f', '--json', '--tpm', 'swtpm:127.0.0.1:5'], registry, { TOLLGATE_TPM: 'device:/dev/tpmrm0' });
    assert.equal(json(b.stdout).values.tpm, 'swtpm:127.0.0.1:5');
    assert.equal(json(b.stdout).tpmEnv, 'swtpm:127.0.0.1:5');
    const c = await cli(['demo', 'echo', 'f', '--tpm'], registry);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /option --tpm needs a value: --tpm URI/);
  });

  it('pass-through commands get undeclared options raw and in order', async () => {
    const argv = ['conformance', 'x', '--metadata-url=http://127.0.0.1:1/m', '--metadata-dir', '/tmp/m', 'refresh', '--days', '3', '--', '--json'];
    const r = await cli(argv, registry);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '--metadata-url=http://127.0.0.1:1/m|refresh|--days|3|--|--json\n');
    const j = await cli(['conformance', 'x', '--json', '--metadata-dir=/m', '-q'], registry);
    assert.deepEqual(json(j.stdout), { values: { json: true, 'metadata-dir': '/m' }, positionals: ['-q'] });
  });
});

describe('positionals', () => {
  it('requires the declared positionals', async () => {
    const r = await cli(['demo', 'echo'], registry);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /CLI_MISSING_ARGUMENT: 'tollgate demo echo' needs FILE/);
  });

  it('refuses more positionals than declared', async () => {
    const r = await cli(['demo', 'echo', 'a', 'b', 'c'], registry);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /CLI_UNEXPECTED_ARGUMENT: unexpected argument 'c'/);
    const s = await cli(['fail', 'denied', 'stray'], registry);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /unexpected argument 'stray' for 'tollgate fail denied'/);
  });
});

describe('output and exit codes', () => {
  it('prints text without --json and info on stderr', async () => {
    const r = await cli(['demo', 'echo', 'f'], registry);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'echo f\n');
    assert.equal(r.stderr, 'working on it\n');
  });

  it('under --json writes exactly one JSON document and no info', async () => {
    const r = await cli(['demo', 'echo', 'f', '--json'], registry);
    assert.equal(r.stderr, '');
    assert.doesNotThrow(() => JSON.parse(r.stdout));
  });

  it('maps TollgateError classes to exit codes 1 and 3', async () => {
    const d = await cli(['fail', 'denied'], registry);
    assert.equal(d.code, 1);
    assert.equal(d.stderr, 'tollgate: POLICY_DENY: the artifact is not allowed by policy.\n');
    const e = await cli(['fail', 'env'], registry);
    assert.equal(e.code, 3);
    assert.match(e.stderr, /^tollgate: TPM_UNREACHABLE: /);
  });

  it('under --json reports errors as {"error":{code,message,details}} on stdout', async () => {
    const d = await cli(['fail', 'denied', '--json'], registry);
    assert.equal(d.code, 1);
    assert.equal(d.stderr, '');
    assert.deepEqual(json(d.stdout), { error: { code: 'POLICY_DENY', message: 'the artifact is not allowed by policy.', details: { rule: 'r1' } } });
    const u = await cli(['--json', 'demo', 'echo', 'f', '--bogus'], registry);
    assert.equal(u.code, 2);
    assert.equal(json(u.stdout).error.code, 'CLI_UNKNOWN_OPTION');
    assert.deepEqual(json(u.stdout).error.details, { option: '--bogus' });
  });

  it('passes on the exit code a command returns', async () => {
    const r = await cli(['fail', 'code', '--json'], registry);
    assert.equal(r.code, 1);
    assert.deepEqual(json(r.stdout), { allowed: false });
  });

  it('turns an unexpected error into exit 3, with the stack only under TOLLGATE_DEBUG=1', async () => {
    const r = await cli(['fail', 'crash'], registry);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /UNEXPECTED_ERROR: unexpected error: index out of range in frobnicator \(set TOLLGATE_DEBUG=1/);
    assert.doesNotMatch(r.stderr, /at .*parse\.test\.ts/);
    const d = await cli(['fail', 'crash'], registry, { TOLLGATE_DEBUG: '1' });
    assert.equal(d.code, 3);
    assert.match(d.stderr, /RangeError: index out of range[\s\S]*parse\.test\.ts/);
    const j = await cli(['fail', 'crash', '--json'], registry);
    assert.deepEqual(json(j.stdout), { error: { code: 'UNEXPECTED_ERROR', message: 'unexpected error: index out of range in frobnicator' } });
  });

  it('a command reporting twice is a bug, not a second document', async () => {
    const r = await cli(['fail', 'twice', '--json'], registry);
    assert.equal(r.code, 3);
    const docs = r.stdout.trim().split(/\n(?=\{)/);
    assert.equal(docs.length, 2); // the result, then the error document
    assert.match(json(docs[1]!).error.message, /reported its result twice/);
  });
});

describe('help and version', () => {
  it('--help lists every command with its summary', async () => {
    const r = await cli(['--help'], registry);
    assert.equal(r.code, 0);
    for (const s of [echo, demo, pass, denied]) assert.match(r.stdout, new RegExp(`${s.path.join(' ')} +${s.summary.replace('.', '\\.')}`));
    assert.match(r.stdout, /--tpm URI/);
    assert.match(r.stdout, /Exit codes: 0 ok/);
  });

  it('command --help shows usage, options and positionals without running it', async () => {
    const r = await cli(['demo', 'echo', '--help'], registry);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /Usage: tollgate demo echo \[options\] FILE \[EXTRA\]/);
    assert.match(r.stdout, /--nonce HEX +A nonce\./);
    assert.match(r.stdout, /-o, --out DIR/);
    assert.match(r.stdout, /--pcrs LIST +PCR selections\. \(repeatable\)/);
    const h = await cli(['demo', 'echo', '-h'], registry);
    assert.equal(h.stdout, r.stdout);
  });

  it('--version prints the package version, as JSON under --json', async () => {
    const { default: pkg } = await import('../../package.json', { with: { type: 'json' } });
    const r = await cli(['--version'], registry);
    assert.equal(r.stdout, `tollgate ${pkg.version}\n`);
    const j = await cli(['--version', '--json'], registry);
    assert.deepEqual(json(j.stdout), { version: pkg.version });
  });
});

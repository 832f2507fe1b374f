// The dispatcher: finds the command named by the leading words of argv, parses its options, runs
// it, and turns the outcome into output and an exit code (ARCHITECTURE.md: 0 ok, 1 denied, 2 usage,
// 3 environment). Command modules are loaded only when their command runs, so `--version` and
// `--help` stay cheap.
import { parseArgs } from 'node:util';
// The error base straight from its module, not hardware/index.ts: importing the index would make
// the bundle initialise the whole TPM stack (net, crypto, async_hooks) before `--version` prints,
// measured at +20-35 ms of cold start. errors.ts is the shared base every folder extends.
import { TollgateError } from '../hardware/errors.ts';
import type { CommandContext, CommandSpec, OptionSpec } from './command.ts';
import { commands as defaultRegistry, type CommandEntry } from './commands/index.ts';
import { VERSION } from './version.ts';

export const EXIT = { ok: 0, denied: 1, usage: 2, environment: 3 } as const;

/** A mistake in how tollgate was invoked (exit 2). */
export class CliUsageError extends TollgateError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, 'usage', details ? { details } : undefined);
    this.name = 'CliUsageError';
  }
}

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** stderr is a terminal. */
  tty: boolean;
}

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'Print exactly one JSON document on stdout (errors too).' },
  tpm: {
    type: 'string', valueName: 'URI',
    description: 'TPM to use: swtpm:HOST:PORT[:CTRLPORT] or device:/dev/tpmrm0 (default: env TOLLGATE_TPM, else /dev/tpmrm0).',
  },
  'tpm-timeout': {
    type: 'string', valueName: 'DURATION',
    description: 'How long to wait for the TPM to answer one command, e.g. 10s, 500ms, 5m (default: env TOLLGATE_TPM_TIMEOUT, else 30s, and 5m for RSA key generation).',
  },
  help: { type: 'boolean', short: 'h', description: 'Show help for tollgate or for the command.' },
  version: { type: 'boolean', description: 'Print the version.' },
};

/** Global string options whose value must be skipped when looking for command words. */
const GLOBAL_VALUED = new Set(['--tpm', '--tpm-timeout']);

// ---------------------------------------------------------------------------------------------
// Entry point

export async function runCli(argv: string[], io: CliIO, registry: CommandEntry[] = defaultRegistry): Promise<number> {
  const json = wantsJson(argv);
  try {
    return await dispatch(argv, io, registry, json);
  } catch (e) {
    return reportError(e, io, json);
  }
}

/**
 * Whether output is JSON, decided before parsing so that even a parse error is a JSON document.
 * Any spelling of the option counts (`--json=1` is then refused, as JSON, by parseOptions).
 */
function wantsJson(argv: string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--json' || a.startsWith('--json=')) return true;
  }
  return false;
}

async function dispatch(argv: string[], io: CliIO, registry: CommandEntry[], json: boolean): Promise<number> {
  const { words, indices } = commandWords(argv);
  const entry = longestMatch(words, registry);

  if (!entry) {
    const group = registry.filter((c) => startsWith(c.path, words));
    if (words.length > 0 && group.length === 0) {
      // Name the first word that leaves every command behind, and what would have fitted there.
      let k = 0;
      while (k < words.length && registry.some((c) => startsWith(c.path, words.slice(0, k + 1)))) k++;
      if (k === 0) {
        throw new CliUsageError('CLI_UNKNOWN_COMMAND',
          `unknown command '${words[0]}'; run 'tollgate --help' for the list of commands.`, { command: words[0] });
      }
      const parent = words.slice(0, k);
      const subs = [...new Set(registry.filter((c) => startsWith(c.path, parent)).map((c) => c.path[k]))];
      throw new CliUsageError('CLI_UNKNOWN_COMMAND',
        `unknown subcommand '${words[k]}' for 'tollgate ${parent.join(' ')}'; it has: ${subs.join(', ')}.`, { command: words.slice(0, k + 1) });
    }
    // No command (or only a group's first words): only global options are allowed here.
    const parsed = parseOptions(argv, GLOBAL_OPTIONS, { positionals: [] }, 'tollgate');
    if (parsed.values.version) return printVersion(io, json);
    if (words.length > 0) {
      if (parsed.values.help) { io.stdout(groupHelp(words, group)); return EXIT.ok; }
      throw new CliUsageError('CLI_MISSING_SUBCOMMAND',
        `'tollgate ${words.join(' ')}' needs a subcommand: ${group.map((c) => c.path.slice(words.length).join(' ')).join(', ')}; run 'tollgate ${words.join(' ')} --help' for details.`);
    }
    if (parsed.values.help) { io.stdout(mainHelp(registry)); return EXIT.ok; }
    if (!json) io.stderr(mainHelp(registry));
    throw new CliUsageError('CLI_NO_COMMAND', `no command given; run 'tollgate --help' for the list of commands.`);
  }

  const rest = argv.filter((_, i) => !indices.slice(0, entry.path.length).includes(i));
  const spec = await loadSpec(entry);
  const name = `tollgate ${spec.path.join(' ')}`;
  const options: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, ...spec.options };
  const parsed = parseOptions(rest, options, spec, name);
  if (parsed.values.version) return printVersion(io, json);
  if (parsed.values.help) { io.stdout(commandHelp(spec)); return EXIT.ok; }
  checkPositionals(spec, parsed.positionals, name);

  const values = parsed.values;
  const env = { ...io.env };
  if (typeof values.tpm === 'string') env.TOLLGATE_TPM = values.tpm;
  else if (io.env.TOLLGATE_TPM) values.tpm = io.env.TOLLGATE_TPM;
  if (typeof values['tpm-timeout'] === 'string') env.TOLLGATE_TPM_TIMEOUT = values['tpm-timeout'];

  let reported = false;
  const ctx: CommandContext = {
    values,
    positionals: parsed.positionals,
    json,
    tty: io.tty,
    env,
    cwd: io.cwd,
    result(data, text) {
      if (reported) throw new Error(`${name} reported its result twice`);
      reported = true;
      if (json) io.stdout(JSON.stringify(data, null, 2) + '\n');
      else if (text !== '') io.stdout(text.endsWith('\n') ? text : text + '\n');
    },
    info(text) {
      if (!json) io.stderr(text.endsWith('\n') ? text : text + '\n');
    },
  };
  const code = await spec.run(ctx);
  return code ?? EXIT.ok;
}

function printVersion(io: CliIO, json: boolean): number {
  io.stdout(json ? JSON.stringify({ version: VERSION }) + '\n' : `tollgate ${VERSION}\n`);
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------
// Finding the command

/** Leading non-option words (skipping global options and their values), up to `--`. */
export function commandWords(argv: string[]): { words: string[]; indices: number[] } {
  const words: string[] = [];
  const indices: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a.startsWith('-') && a !== '-') {
      if (GLOBAL_VALUED.has(a)) i++;
      continue;
    }
    words.push(a);
    indices.push(i);
  }
  return { words, indices };
}

function startsWith(path: string[], prefix: string[]): boolean {
  return prefix.length <= path.length && prefix.every((w, i) => path[i] === w);
}

function longestMatch(words: string[], registry: CommandEntry[]): CommandEntry | undefined {
  let best: CommandEntry | undefined;
  for (const c of registry) {
    if (startsWith(words, c.path) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best;
}

function isSpec(x: unknown): x is CommandSpec {
  return typeof x === 'object' && x !== null && Array.isArray((x as CommandSpec).path)
    && typeof (x as CommandSpec).run === 'function' && typeof (x as CommandSpec).options === 'object';
}

/** Every CommandSpec a command module exports, whatever it calls the export. */
export function specsOf(mod: Record<string, unknown>): CommandSpec[] {
  const out: CommandSpec[] = [];
  for (const v of Object.values(mod)) {
    for (const x of Array.isArray(v) ? v : [v]) if (isSpec(x) && !out.includes(x)) out.push(x);
  }
  return out;
}

async function loadSpec(entry: CommandEntry): Promise<CommandSpec> {
  const spec = specsOf(await entry.load()).find((s) => s.path.join(' ') === entry.path.join(' '));
  if (!spec) throw new Error(`command module for '${entry.path.join(' ')}' does not export that command`);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Options

type Values = CommandContext['values'];

/**
 * Parses options with node:util parseArgs in tolerant mode and then applies our own strict rules,
 * so every mistake gets a sentence naming the option. `passThrough` specs receive undeclared
 * options as raw positionals in their original order.
 */
export function parseOptions(args: string[], options: Record<string, OptionSpec>,
  spec: Pick<CommandSpec, 'positionals' | 'passThrough'>, name: string): { values: Values; positionals: string[] } {
  const { tokens } = parseArgs({ args, options: toParseArgs(options), strict: false, allowPositionals: true, tokens: true });
  const values: Values = {};
  const positionals: string[] = [];
  const consumed = new Set<number>();
  const passRaw = new Set<number>();
  const help = `'${name} --help'`;

  for (const t of tokens) {
    if (t.kind === 'option-terminator') { (spec.passThrough ? passRaw : consumed).add(t.index); continue; }
    if (t.kind === 'positional') {
      if (spec.passThrough) passRaw.add(t.index);
      else positionals.push(t.value);
      continue;
    }
    const opt = options[t.name];
    if (!opt || (t.rawName.startsWith('--') ? false : opt.short !== t.rawName.slice(1))) {
      if (spec.passThrough) { passRaw.add(t.index); continue; }
      throw new CliUsageError('CLI_UNKNOWN_OPTION',
        `unknown option ${t.rawName} for '${name}'; run ${help} to see the options it takes.`, { option: t.rawName });
    }
    const flag = `--${t.name}`;
    if (opt.type === 'boolean') {
      if (t.inlineValue) throw new CliUsageError('CLI_OPTION_VALUE', `option ${flag} takes no value; write just ${flag}.`, { option: flag });
      values[t.name] = true;
    } else {
      const placeholder = opt.valueName ?? 'VALUE';
      if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-') && t.value !== '-')) {
        throw new CliUsageError('CLI_OPTION_VALUE',
          `option ${flag} needs a value: ${flag} ${placeholder}${t.value === undefined ? '' : ` (to pass a value that starts with '-', write ${flag}=${t.value})`}.`, { option: flag });
      }
      if (opt.multiple) {
        const prev = values[t.name];
        values[t.name] = Array.isArray(prev) ? [...prev, t.value] : [t.value];
      } else if (values[t.name] !== undefined) {
        // Last-wins would silently drop a value the user typed (`--out a --out b`).
        throw new CliUsageError('CLI_OPTION_REPEATED',
          `option ${flag} was given more than once (${JSON.stringify(values[t.name])}, then ${JSON.stringify(t.value)}); give it once.`, { option: flag });
      } else {
        values[t.name] = t.value;
      }
      if (!t.inlineValue) consumed.add(t.index + 1);
    }
    consumed.add(t.index);
  }
  if (spec.passThrough) {
    // Raw args, in order, that no declared option claimed (a grouped `-abc` with any unknown
    // letter passes through whole).
    args.forEach((a, i) => { if (passRaw.has(i)) positionals.push(a); });
  }
  return { values, positionals };
}

function toParseArgs(options: Record<string, OptionSpec>): Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> {
  const out: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [k, o] of Object.entries(options)) {
    out[k] = { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
  }
  return out;
}

function checkPositionals(spec: CommandSpec, positionals: string[], name: string): void {
  if (spec.passThrough) return;
  const declared = spec.positionals ?? [];
  const required = declared.filter((p) => p.required);
  if (positionals.length < required.length) {
    const missing = required.slice(positionals.length).map((p) => placeholder(p.name));
    throw new CliUsageError('CLI_MISSING_ARGUMENT',
      `'${name}' needs ${missing.join(' ')}; run '${name} --help' for usage.`, { missing });
  }
  const variadic = declared.at(-1)?.variadic === true;
  if (!variadic && positionals.length > declared.length) {
    const extra = positionals[declared.length]!;
    throw new CliUsageError('CLI_UNEXPECTED_ARGUMENT',
      `unexpected argument '${extra}' for '${name}'; run '${name} --help' for usage.`, { argument: extra });
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

function reportError(e: unknown, io: CliIO, json: boolean): number {
  const debug = io.env.TOLLGATE_DEBUG === '1';
  if (e instanceof TollgateError) {
    if (json) io.stdout(JSON.stringify({ error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } }, null, 2) + '\n');
    else io.stderr(`tollgate: ${e.code}: ${e.message}\n`);
    if (debug) io.stderr(stackOf(e));
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  const hint = debug ? '' : ' (set TOLLGATE_DEBUG=1 to see the stack trace)';
  if (json) io.stdout(JSON.stringify({ error: { code: 'UNEXPECTED_ERROR', message: `unexpected error: ${message}` } }, null, 2) + '\n');
  else io.stderr(`tollgate: UNEXPECTED_ERROR: unexpected error: ${message}${hint}\n`);
  if (debug) io.stderr(stackOf(e));
  return EXIT.environment;
}

function stackOf(e: unknown): string {
  let out = '';
  for (let c: unknown = e, depth = 0; c !== undefined && depth < 8; depth++) {
    out += (depth ? 'caused by: ' : '') + (c instanceof Error ? (c.stack ?? c.message) : String(c)) + '\n';
    c = c instanceof Error ? c.cause : undefined;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Help

function table(rows: Array<[string, string]>, indent = '  '): string {
  const width = Math.min(32, Math.max(0, ...rows.map(([a]) => a.length)));
  return rows.map(([a, b]) => (a.length > width ? `${indent}${a}\n${indent}${' '.repeat(width)}  ${b}` : `${indent}${a.padEnd(width)}  ${b}`)).join('\n');
}

function optionRows(options: Record<string, OptionSpec>): Array<[string, string]> {
  return Object.entries(options).map(([k, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${k}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    return [flag, o.description + (o.multiple && !/repeatable/i.test(o.description) ? ' (repeatable)' : '')];
  });
}

const EXIT_TEXT = 'Exit codes: 0 ok/allowed, 1 denied or verification failed, 2 usage or configuration error,\n3 environment failure (TPM, network, disk).';

export function mainHelp(registry: CommandEntry[]): string {
  const rows = registry.map((c): [string, string] => [c.path.join(' '), c.summary]);
  return [
    `tollgate ${VERSION}: roots trust in a TPM 2.0, fetches signed metadata with TUF, verifies artifacts,`,
    'SBOMs and provenance before install, and emits TPM-backed attestations.',
    '',
    'Usage: tollgate <command> [options]',
    '',
    'Commands:',
    rows.length ? table(rows) : '  (none yet)',
    '',
    'Global options:',
    table(optionRows(GLOBAL_OPTIONS)),
    '',
    `Run 'tollgate <command> --help' for a command's options.`,
    EXIT_TEXT,
    '',
  ].join('\n');
}

function groupHelp(words: string[], group: CommandEntry[]): string {
  return [
    `Usage: tollgate ${words.join(' ')} <subcommand> [options]`,
    '',
    'Subcommands:',
    table(group.map((c): [string, string] => [c.path.join(' '), c.summary])),
    '',
  ].join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) => {
    const n = placeholder(p.name) + (p.variadic ? '...' : '');
    return p.required ? n : `[${n}]`;
  });
  // A spec's own usage line (starting with 'tollgate ') replaces the generated one; other usage
  // text is shown as a paragraph under the summary.
  const own = spec.usage?.trimEnd();
  const usageLine = own?.startsWith('tollgate ') ? own
    : `tollgate ${spec.path.join(' ')} [options]${pos.length ? ' ' + pos.join(' ') : ''}${spec.passThrough ? ' [ARGS...]' : ''}`;
  const lines = [`Usage: ${usageLine}`, '', spec.summary];
  if (own && own !== usageLine) lines.push('', own);
  const mine = Object.fromEntries(Object.entries(spec.options).filter(([k]) => !(k in GLOBAL_OPTIONS)));
  if (Object.keys(mine).length) lines.push('', 'Options:', table(optionRows(mine)));
  lines.push('', 'Global options:', table(optionRows({ ...GLOBAL_OPTIONS, ...pick(spec.options, Object.keys(GLOBAL_OPTIONS)) })), '', EXIT_TEXT, '');
  return lines.join('\n');
}

/** `file` → FILE; names that already carry case or punctuation (FILE|sha256:HEX) are shown as written. */
function placeholder(name: string): string {
  return /^[a-z][a-z0-9-]*$/.test(name) ? name.toUpperCase() : name;
}

function pick(o: Record<string, OptionSpec>, keys: string[]): Record<string, OptionSpec> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k)));
}

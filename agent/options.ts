// Option access and check rendering shared by the command modules.
import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { TollgateError } from '../hardware/index.ts';
import type { Check } from '../attest/index.ts';
import type { CommandContext } from './command.ts';

/** A string option's value, or undefined when it was not given. */
export function optString(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A repeatable option's values (empty when not given). */
export function optList(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** A string option the command cannot run without: missing or empty is a usage error (exit 2). */
export function requireOption(ctx: CommandContext, name: string, example?: string): string {
  const v = optString(ctx, name);
  if (v === undefined || v.trim() === '') {
    throw new TollgateError('CLI_MISSING_OPTION', `--${name} is required${example ? `, e.g. --${name} ${example}` : ''}.`, 'usage');
  }
  return v;
}

/**
 * The path of a FILE the command will create (--out FILE, --vsa-out FILE), resolved against the
 * working directory and refused (usage, exit 2) before anything is created when it cannot be a
 * file: empty, a filesystem root (`--out /`), ending in a slash or in `.`/`..`, or an existing
 * directory.
 */
export function outputFile(ctx: CommandContext, name: string, value: string): string {
  const path = resolve(ctx.cwd, value);
  const last = value.split('/').at(-1);
  let isDir = false;
  try { isDir = statSync(path).isDirectory(); } catch { /* does not exist yet: fine */ }
  if (value.trim() === '' || basename(path) === '' || last === '' || last === '.' || last === '..' || isDir) {
    throw new TollgateError('CLI_OUTPUT_INVALID', `--${name} ${JSON.stringify(value)} ${isDir ? 'is a directory' : 'cannot name a file'}; give the path of the file to write, e.g. --${name} ./out/file.`, 'usage', { details: { option: `--${name}`, value } });
  }
  return path;
}

/**
 * The path of a DIR the command writes files into (--out DIR), refused (usage) before anything
 * happens when it is empty, the filesystem root, or an existing file that is not a directory.
 */
export function outputDir(ctx: CommandContext, name: string, value: string): string {
  const path = resolve(ctx.cwd, value);
  let notDir = false;
  try { notDir = !statSync(path).isDirectory(); } catch { /* created when writing */ }
  if (value.trim() === '' || path === resolve('/') || notDir) {
    const why = notDir ? 'exists and is not a directory' : value.trim() === '' ? 'is empty' : 'is the filesystem root';
    throw new TollgateError('CLI_OUTPUT_INVALID', `--${name} ${JSON.stringify(value)} ${why}; give a directory to write the files into, e.g. --${name} ./out.`, 'usage', { details: { option: `--${name}`, value } });
  }
  return path;
}

const MARK: Record<Check['status'], string> = { passed: 'PASS', failed: 'FAIL', 'not-applicable': 'n/a ' };

/** One line per check: `PASS  id: reason`. */
export function checkLines(checks: readonly Check[]): string[] {
  return checks.map((c) => `${MARK[c.status]}  ${c.id}: ${c.reason}`);
}

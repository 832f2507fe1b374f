// Option access and check rendering shared by the command modules.
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

const MARK: Record<Check['status'], string> = { passed: 'PASS', failed: 'FAIL', 'not-applicable': 'n/a ' };

/** One line per check: `PASS  id: reason`. */
export function checkLines(checks: readonly Check[]): string[] {
  return checks.map((c) => `${MARK[c.status]}  ${c.id}: ${c.reason}`);
}

// Where tollgate keeps its state: --state DIR, else $TOLLGATE_STATE, else /var/lib/tollgate.
// Below it: tuf/ (TUF state), gate.json (gate-config.ts), tpm.json (tpm-state.ts).
import { resolve } from 'node:path';
import type { CommandContext, OptionSpec } from './command.ts';
import { optString } from './options.ts';

export const STATE: OptionSpec = { type: 'string', description: 'tollgate state directory (default $TOLLGATE_STATE or /var/lib/tollgate)', valueName: 'DIR' };

export function stateRoot(ctx: CommandContext): string {
  return resolve(ctx.cwd, optString(ctx, 'state') ?? ctx.env.TOLLGATE_STATE ?? '/var/lib/tollgate');
}

// Reading the files a command is given and writing the ones it produces, with errors a user can
// act on: a missing or oversized input is a usage error (exit 2) naming the option, a failed
// write is an environment error (exit 3). Outputs are written atomically (temp, fsync, rename,
// fsync dir).
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { TollgateError } from '../hardware/index.ts';
import { writeFileAtomic } from '../tuf/index.ts';
import type { CommandContext } from './command.ts';

/** The bytes of a file given with --option (or as an argument named `option`). */
export function readInputFile(ctx: CommandContext, option: string, path: string, maxBytes: number): Buffer {
  const p = resolve(ctx.cwd, path);
  try {
    const st = statSync(p);
    if (st.isFile() && st.size > maxBytes) {
      throw new TollgateError('CLI_FILE_TOO_LARGE', `${option} ${path} is ${st.size} bytes, more than the ${maxBytes} accepted.`, 'usage', { details: { path } });
    }
    return readFileSync(p);
  } catch (e) {
    if (e instanceof TollgateError) throw e;
    throw new TollgateError('CLI_FILE_UNREADABLE', `Cannot read ${option} ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path.`, 'usage', { details: { path } });
  }
}

/** Writes an output file atomically; returns its absolute path. */
export function writeOutputFile(ctx: CommandContext, path: string, data: Uint8Array | string): string {
  const p = resolve(ctx.cwd, path);
  try {
    writeFileAtomic(p, data);
    return p;
  } catch (e) {
    throw new TollgateError('CLI_WRITE_FAILED', `Cannot write ${p} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that its directory is writable.`, 'environment', { cause: e });
  }
}

// Runs the dispatcher in-process against a given command list and captures what it prints.
import { runCli } from '../../agent/cli.ts';
import type { CommandEntry } from '../../agent/commands/index.ts';
import type { CommandSpec } from '../../agent/command.ts';

export interface Captured { code: number; stdout: string; stderr: string }

export async function cli(argv: string[], registry: CommandEntry[], env: NodeJS.ProcessEnv = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (s) => { stdout += s; },
    stderr: (s) => { stderr += s; },
    env, cwd: process.cwd(), tty: false,
  }, registry);
  return { code, stdout, stderr };
}

/** A command list whose modules are the given specs (as a command module would export them). */
export function registryOf(specs: CommandSpec[]): CommandEntry[] {
  return specs.map((s) => ({ path: s.path, summary: s.summary, load: async () => ({ commands: specs }) }));
}

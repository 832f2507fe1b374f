// `tollgate` entry point (the esbuild bundle's main and the single binary's script): run the
// dispatcher on argv, then exit with its code once stdout and stderr have drained, so a command
// that forgot an open handle cannot keep the process alive.
import { runCli } from './cli.ts';

function writer(stream: NodeJS.WriteStream): (s: string) => void {
  // A reader that went away (`tollgate --help | head`) is not an error worth reporting.
  stream.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'EPIPE') throw e; });
  return (s) => { stream.write(s); };
}

function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0) resolve();
    else stream.write('', () => resolve());
  });
}

// No top-level await: the bundle is CommonJS (a Node 24 single executable needs a CommonJS main).
async function main(): Promise<never> {
  const code = await runCli(process.argv.slice(2), {
    stdout: writer(process.stdout),
    stderr: writer(process.stderr),
    env: process.env,
    cwd: process.cwd(),
    tty: process.stderr.isTTY === true,
  });
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}

void main();

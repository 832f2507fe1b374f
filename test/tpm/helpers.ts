// Shared bits of the test/tpm suites: running tpm2-tools against a test swtpm, opening our TPM
// for a block of work (swtpm serves one client at a time), and checking nothing transient is left.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import { openTPM, TPM_HT, hex32, type TPM } from '../../hardware/index.ts';
import type { Swtpm } from '../swtpm.ts';

export interface ToolResult { status: number | null; stdout: string; stderr: string }

/** Runs a tpm2-tools command against the swtpm (never with our connection open). */
export function tool(sw: Swtpm, cmd: string, args: string[], cwd?: string): ToolResult {
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, TPM2TOOLS_TCTI: sw.tcti }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Like tool(), but the command must succeed. */
export function mustTool(sw: Swtpm, cmd: string, args: string[], cwd?: string): string {
  const r = tool(sw, cmd, args, cwd);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** tpm2-tools leaves transient objects and sessions behind: flush them. */
export function flushToolLeftovers(sw: Swtpm): void {
  mustTool(sw, 'tpm2_flushcontext', ['-t']);
  mustTool(sw, 'tpm2_flushcontext', ['-s']);
}

/** Opens our TPM for fn and closes it afterwards (so tpm2-tools can connect next). */
export async function withTPM<T>(sw: Swtpm, fn: (tpm: TPM) => Promise<T>): Promise<T> {
  const tpm = await openTPM(sw.uri);
  try {
    return await fn(tpm);
  } finally {
    await tpm.close();
  }
}

/** Asserts the TPM holds no transient objects and no sessions beyond this connection's own
 * secure session (kept open by design; close() flushes it). */
export async function assertNothingTransient(tpm: TPM): Promise<void> {
  const own = tpm.secureSessionHandle;
  const left = [...await tpm.handles(TPM_HT.TRANSIENT), ...await tpm.handles(TPM_HT.LOADED_SESSION), ...await tpm.handles(TPM_HT.SAVED_SESSION)]
    .filter((h) => h !== own);
  assert.deepEqual(left.map(hex32), [], 'transient objects or sessions left in the TPM');
}

/** A suite's after hook when each test opens its own connection: checks through a fresh
 * connection that nothing transient is left, then stops the swtpm and removes the suite's dir. */
export async function endSuite(sw: Swtpm | undefined, dir: string | undefined): Promise<void> {
  try {
    if (sw) await withTPM(sw, assertNothingTransient);
  } finally {
    await sw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** A suite's after hook when the suite holds one connection open: checks that nothing transient
 * is left, closes it, then stops the swtpm. */
export async function closeSuite(sw: Swtpm | undefined, tpm: TPM | undefined): Promise<void> {
  try {
    if (tpm) {
      await assertNothingTransient(tpm);
      await tpm.close();
    }
  } finally {
    await sw?.stop();
  }
}

/** Every single-bit flip of `b`. */
export function* bitFlips(b: Uint8Array): Generator<{ at: number; bit: number; bytes: Buffer }> {
  for (let at = 0; at < b.length; at++) {
    for (let bit = 0; bit < 8; bit++) {
      const c = Buffer.from(b);
      c[at]! ^= 1 << bit;
      yield { at, bit, bytes: c };
    }
  }
}

// What tollgate keeps about its TPM, `<state>/tpm.json`, and how commands open the TPM with it.
//
// The SRK pin. `tollgate tpm provision` records the Name of the SRK it made (or found) at
// 0x81000001. Every salted session a command starts (the TUF anchor's NV reads and writes go
// through one) is then salted only to a key with exactly that Name: a key substituted at the SRK
// handle, by whoever can touch the TPM or sit between it and us, is refused with
// TPM_SALT_KEY_MISMATCH instead of being handed the session key.
// Older state without tpm.json keeps working unpinned (salted to whatever SRK is there, or to a
// throwaway NULL-hierarchy key): running `tollgate tpm provision --state DIR` once records the pin
// and changes nothing on an already provisioned TPM.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TollgateError, SRK_HANDLE, hex32, openTPM, resolveTPMURI, resolveTPMTimeout, type TPM } from '../hardware/index.ts';
import { writeFileAtomic } from '../tuf/index.ts';
import type { CommandContext } from './command.ts';
import { optString } from './options.ts';

export interface TpmRecord { layout: 1; srk: { handle: string; name: string } }

export const tpmRecordPath = (stateRoot: string): string => join(stateRoot, 'tpm.json');

function invalid(p: string, why: string, cause?: unknown): TollgateError {
  return new TollgateError('TPM_STATE_INVALID', `${p} ${why}; run \`tollgate tpm provision --state DIR\` again to record the SRK Name (it changes nothing on a provisioned TPM).`,
    'environment', cause === undefined ? undefined : { cause });
}

/** The pinned SRK Name, or undefined when no pin was recorded (older state). */
export function readSrkPin(stateRoot: string): { handle: number; name: Buffer; path: string } | undefined {
  const p = tpmRecordPath(stateRoot);
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalid(p, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, e);
  }
  let v: Partial<TpmRecord>;
  try { v = JSON.parse(text) as Partial<TpmRecord>; } catch (e) { throw invalid(p, 'is corrupted', e); }
  const srk = v?.srk;
  if (v?.layout !== 1 || typeof srk?.handle !== 'string' || typeof srk.name !== 'string' || !/^[0-9a-f]{4,}$/.test(srk.name) || srk.name.length % 2 !== 0
    || srk.handle !== hex32(SRK_HANDLE)) {
    throw invalid(p, 'is not a tollgate TPM record');
  }
  return { handle: SRK_HANDLE, name: Buffer.from(srk.name, 'hex'), path: p };
}

export function writeSrkPin(stateRoot: string, name: Uint8Array): string {
  const p = tpmRecordPath(stateRoot);
  const rec: TpmRecord = { layout: 1, srk: { handle: hex32(SRK_HANDLE), name: Buffer.from(name).toString('hex') } };
  writeFileAtomic(p, JSON.stringify(rec, null, 2) + '\n');
  return p;
}

/**
 * Opens the TPM a command names (--tpm / TOLLGATE_TPM) with the user's timeout (--tpm-timeout /
 * TOLLGATE_TPM_TIMEOUT) and, when `pinFrom` (a state root) holds one, the SRK pin.
 */
export async function openCommandTPM(ctx: CommandContext, opts: { pinFrom?: string } = {}): Promise<TPM> {
  const uri = resolveTPMURI(optString(ctx, 'tpm'), ctx.env);
  const timeoutMs = resolveTPMTimeout(optString(ctx, 'tpm-timeout'), ctx.env);
  const pin = opts.pinFrom === undefined ? undefined : readSrkPin(opts.pinFrom);
  return openTPM(uri, {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(pin ? { secureSession: { saltKey: pin.handle, saltKeyName: pin.name, pinnedIn: pin.path } } : {}),
  });
}

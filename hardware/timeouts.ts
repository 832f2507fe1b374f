// How long to wait for the TPM to answer one command. A silent TPM must be noticed in seconds, not
// minutes, yet RSA key generation on a discrete TPM can legitimately take minutes (ARCHITECTURE.md:
// 100–600 ms per sign/quote, minutes for RSA keygen). So ordinary commands get COMMAND_TIMEOUT_MS,
// a wide margin over what they take (the Linux TPM driver waits 2 s for most commands it knows),
// and commands that generate an RSA key KEYGEN_TIMEOUT_MS (the 5 minutes that driver allows key
// creation). --tpm-timeout / TOLLGATE_TPM_TIMEOUT (OpenOptions.timeoutMs) replaces both.
import { TPM_ALG, TPM_CC as CC } from './constants.ts';
import { TPMUsageError } from './tpmerrors.ts';
import { DEFAULT_TIMEOUT_MS } from './transport/transport.ts';

export const COMMAND_TIMEOUT_MS = DEFAULT_TIMEOUT_MS;
export const KEYGEN_TIMEOUT_MS = 300_000;
/** The longest timeout accepted from the command line or the environment. */
export const MAX_TIMEOUT_MS = 3_600_000;

const KEYGEN = new Set<number>([CC.CreatePrimary, CC.Create, CC.CreateLoaded]);

/** TPMT_PUBLIC.type of a key-creation template: a TPMTPublic value, or marshalled bytes (TPM2B_TEMPLATE). */
function templateType(t: unknown): number | undefined {
  if (t instanceof Uint8Array) return t.length >= 2 ? (t[0]! << 8) | t[1]! : undefined;
  const type = (t as { type?: unknown } | undefined)?.type;
  return typeof type === 'number' ? type : undefined;
}

/** The default timeout of one command (`params` as given to the execute path). */
export function commandTimeoutMs(code: number, params: unknown): number {
  if (!KEYGEN.has(code)) return COMMAND_TIMEOUT_MS;
  const p = params as { inPublic?: unknown } | undefined;
  return templateType(p?.inPublic) === TPM_ALG.RSA ? KEYGEN_TIMEOUT_MS : COMMAND_TIMEOUT_MS;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/**
 * Parses a duration: `500ms`, `30s`, `1.5s`, `5m`, or a bare number of seconds. Throws
 * TPMUsageError(TPM_TIMEOUT_INVALID) naming `what` (e.g. "--tpm-timeout").
 */
export function parseTimeout(text: string, what = '--tpm-timeout'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  const ms = m ? Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!) : NaN;
  if (!Number.isFinite(ms) || ms < 1 || ms > MAX_TIMEOUT_MS) {
    throw new TPMUsageError('TPM_TIMEOUT_INVALID',
      `${what} ${JSON.stringify(text)} is not a usable timeout: write e.g. 30s, 500ms or 5m (a bare number is seconds), from 1 ms to 60 m.`,
      { details: { value: text } });
  }
  return ms;
}

/**
 * The timeout override chosen by the user: `flag` (--tpm-timeout) first, then env
 * TOLLGATE_TPM_TIMEOUT; undefined means the per-command defaults.
 */
export function resolveTPMTimeout(flag?: string, env: Record<string, string | undefined> = process.env): number | undefined {
  if (flag !== undefined) return parseTimeout(flag, '--tpm-timeout');
  const e = env['TOLLGATE_TPM_TIMEOUT'];
  return e === undefined || e === '' ? undefined : parseTimeout(e, 'TOLLGATE_TPM_TIMEOUT');
}

// The one thing the command layer needs from a link to a TPM: send a whole command, get the whole
// response back, or a TPMTransportError (never a hang: every send has a timeout).

export interface SendOptions {
  /** Overrides the transport's default per-command timeout. */
  timeoutMs?: number;
  /** The command's spec name (e.g. "TPM2_Quote"), for the timeout message. */
  command?: string;
}

export interface Transport {
  /** Canonical URI of the TPM, e.g. "swtpm:127.0.0.1:2321:2322" or "device:/dev/tpmrm0". */
  readonly uri: string;
  /** Sends one command (header included) and resolves with the whole response. */
  send(command: Uint8Array, opts?: SendOptions): Promise<Buffer>;
  /**
   * Simulator power-on (_TPM_Init via the swtpm control port). Absent on real devices. The bring-up
   * calls it only when the TPM answers TPM_RC_FAILURE before INIT.
   */
  powerOn?(): Promise<void>;
  /** Sets the locality for following commands, where the transport supports it (swtpm). */
  setLocality?(locality: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Default timeout of one send when the caller gives none. The execute path gives every command its
 * own (hardware/timeouts.ts: longer for RSA key generation).
 */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The TPM_TIMEOUT sentence: which command, the limit actually applied, and what to do. */
export function timeoutMessage(uri: string, timeoutMs: number, command: string | undefined, closed: string): string {
  return `The TPM at ${uri} did not answer ${command ?? 'a command'} within ${timeoutMs} ms; it may have hung or died. ${closed} If this TPM is only slow, allow it more time with --tpm-timeout (or TOLLGATE_TPM_TIMEOUT).`;
}

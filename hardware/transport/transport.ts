// The one thing the command layer needs from a link to a TPM: send a whole command, get the whole
// response back, or a TPMTransportError (never a hang: every send has a timeout).

export interface SendOptions {
  /** Overrides the transport's default per-command timeout. */
  timeoutMs?: number;
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

/** Default per-command timeout: generous, because discrete TPMs can take minutes for RSA keygen. */
export const DEFAULT_TIMEOUT_MS = 300_000;

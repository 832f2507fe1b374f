// Transports to a TPM: swtpm over TCP and Linux TPM character devices.
import { DeviceTransport } from './device.ts';
import { SwtpmTransport } from './swtpm.ts';
import type { Transport } from './transport.ts';
import { parseTPMURI, type TPMURI } from './uri.ts';

export type { Transport, SendOptions } from './transport.ts';
export { DEFAULT_TIMEOUT_MS } from './transport.ts';
export { SwtpmTransport } from './swtpm.ts';
export { DeviceTransport, type DeviceOptions } from './device.ts';
export { parseTPMURI, resolveTPMURI, DEFAULT_DEVICE, TPM_URI_FORMS, type TPMURI } from './uri.ts';

export interface TransportOptions {
  /**
   * Timeout for every command, overriding the per-command defaults (hardware/timeouts.ts: 30 s,
   * 300 s for RSA key generation). Also the limit for raw sends and swtpm control commands.
   */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /** device: only: also accept a FUSE file standing in for the TPM device (test rigs). */
  allowFuseStandIn?: boolean;
}

/** Opens the transport a TPM URI names. */
export async function openTransport(uri: string | TPMURI, opts: TransportOptions = {}): Promise<Transport> {
  const u = typeof uri === 'string' ? parseTPMURI(uri) : uri;
  if (u.kind === 'swtpm') return SwtpmTransport.connect(u.host, u.port, u.ctrlPort, opts);
  return DeviceTransport.open(u.path, opts);
}

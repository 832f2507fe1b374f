// Which TPM to use. Accepted forms:
//   swtpm:HOST:PORT            swtpm over TCP, control port PORT+1
//   swtpm:HOST:PORT:CTRLPORT   swtpm with an explicit control port
//   device:PATH                a TPM character device, e.g. device:/dev/tpmrm0
// Choice order: explicit --tpm value, then env TOLLGATE_TPM, then /dev/tpmrm0 when it exists.
import { existsSync } from 'node:fs';
import { TPMTransportError, TPMUsageError } from '../tpmerrors.ts';

export type TPMURI =
  | { kind: 'swtpm'; host: string; port: number; ctrlPort: number; uri: string }
  | { kind: 'device'; path: string; uri: string };

export const DEFAULT_DEVICE = '/dev/tpmrm0';
export const TPM_URI_FORMS = 'swtpm:HOST:PORT, swtpm:HOST:PORT:CTRLPORT or device:/dev/tpmrm0';

function invalid(s: string, why: string): TPMUsageError {
  return new TPMUsageError('TPM_URI_INVALID', `"${s}" is not a TPM URI we accept (${why}). Use ${TPM_URI_FORMS}.`, { details: { uri: s } });
}

function port(s: string, whole: string, what: string): number {
  if (!/^\d{1,5}$/.test(s)) throw invalid(whole, `${what} "${s}" is not a number`);
  const n = Number(s);
  if (n < 1 || n > 65535) throw invalid(whole, `${what} ${n} is not 1..65535`);
  return n;
}

/** Parses a TPM URI; throws TPMUsageError(TPM_URI_INVALID) naming the accepted forms. */
export function parseTPMURI(s: string): TPMURI {
  if (typeof s !== 'string' || s.trim() === '') throw invalid(String(s), 'it is empty');
  const t = s.trim();
  if (t.startsWith('device:')) {
    const path = t.slice('device:'.length);
    if (!path.startsWith('/')) throw invalid(s, 'the device path must be absolute');
    return { kind: 'device', path, uri: `device:${path}` };
  }
  if (t.startsWith('swtpm:')) {
    const rest = t.slice('swtpm:'.length);
    let host: string;
    let ports: string[];
    const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(rest);
    if (v6) { host = v6[1]!; ports = v6[2]!.split(':'); }
    else { const parts = rest.split(':'); host = parts[0]!; ports = parts.slice(1); }
    if (!host || !/^[A-Za-z0-9.\-:]+$/.test(host)) throw invalid(s, 'the host is missing or not a host name');
    if (ports.length < 1 || ports.length > 2) throw invalid(s, 'give a port, or a port and a control port');
    const p = port(ports[0]!, s, 'port');
    const c = ports.length === 2 ? port(ports[1]!, s, 'control port') : p + 1;
    if (c > 65535) throw invalid(s, 'the control port would be above 65535; give it explicitly');
    const h = host.includes(':') ? `[${host}]` : host;
    return { kind: 'swtpm', host, port: p, ctrlPort: c, uri: `swtpm:${h}:${p}:${c}` };
  }
  throw invalid(s, 'unknown scheme');
}

/**
 * Resolves which TPM to use: `flag` (--tpm) first, then env TOLLGATE_TPM, then /dev/tpmrm0 if it
 * exists. Throws TPMUsageError(TPM_URI_INVALID) for a malformed value and TPMTransportError
 * (TPM_NOT_FOUND, environment) when nothing is configured and there is no device.
 */
export function resolveTPMURI(flag?: string, env: Record<string, string | undefined> = process.env, exists: (p: string) => boolean = existsSync): TPMURI {
  if (flag !== undefined) return parseTPMURI(flag);
  const e = env['TOLLGATE_TPM'];
  if (e !== undefined && e !== '') return parseTPMURI(e);
  if (exists(DEFAULT_DEVICE)) return { kind: 'device', path: DEFAULT_DEVICE, uri: `device:${DEFAULT_DEVICE}` };
  throw new TPMTransportError('TPM_NOT_FOUND', `No TPM found: ${DEFAULT_DEVICE} does not exist and no TPM was chosen. Pass --tpm or set TOLLGATE_TPM to ${TPM_URI_FORMS}.`);
}

// Decoding measured-boot events for appraisal, with digest checking. The event type is covered by
// no digest, so it is only a claim: an event's data is `trusted` only when its type is one whose
// digest is defined as the hash of the event data AND every digest the log carries (for banks we
// can compute) equals that hash. Everything else is decoded and reported, never trusted.
import { digest as hashOf, hashName } from './hash.ts';
import { EV, eventTypeName, type TCGEvent, type TCGLog } from './tcg.ts';
import {
  DecodeError, GUID, parseAuthority, parseImageLoadEvent, parseLoadOption, parseSignatureLists, parseVariableData, ucs2,
  type DevicePath, type LoadOption, type SignatureEntry, type SignatureList,
} from './uefi.ts';

/** Types whose digest is, by the PC Client spec, the hash of the event data. */
const DATA_HASHED = new Set<number>([
  EV.SEPARATOR, EV.ACTION, EV.EFI_ACTION, EV.S_CRTM_VERSION, EV.OMIT_BOOT_DEVICE_EVENTS,
  EV.EFI_VARIABLE_DRIVER_CONFIG, EV.EFI_VARIABLE_BOOT, EV.EFI_VARIABLE_BOOT2, EV.EFI_VARIABLE_AUTHORITY,
  EV.EFI_GPT_EVENT, EV.EFI_GPT_EVENT2,
]);

const VARIABLE_EVENTS = new Set<number>([EV.EFI_VARIABLE_DRIVER_CONFIG, EV.EFI_VARIABLE_BOOT, EV.EFI_VARIABLE_BOOT2, EV.EFI_VARIABLE_AUTHORITY]);

export type DigestCheck =
  /** Every computable digest equals H(event data). */
  | 'match'
  /** Every computable digest equals H(VariableData) only (EDK2 measures Boot#### this way): the
   * variable's name and GUID are not covered, so the event is not trusted. */
  | 'variable-data'
  /** Some digest differs from H(event data): the data is not what was measured. */
  | 'mismatch'
  /** No digest of a bank we can compute. */
  | 'unverifiable'
  /** EV_NO_ACTION: nothing was extended. */
  | 'not-extended';

export type EventInfo =
  | { kind: 'spec-id' }
  | { kind: 'startup-locality'; locality: number }
  | { kind: 'no-action'; signature: string }
  | { kind: 'separator'; value: number; error: boolean }
  | { kind: 'action'; text: string }
  | { kind: 'variable'; guid: string; name: string; data: Buffer; secureBoot?: boolean; signatureLists?: SignatureList[]; bootOrder?: number[]; loadOption?: LoadOption; authority?: SignatureEntry }
  | { kind: 'image'; devicePath: DevicePath; location: bigint; length: bigint }
  | { kind: 'text'; text: string }
  | { kind: 'raw' };

export interface DecodedTCGEvent {
  seq: number;
  pcr: number;
  type: number;
  typeName: string;
  digestCheck: DigestCheck;
  /** The decoded data may be relied on (see the file comment). */
  trusted: boolean;
  info: EventInfo;
  /** Why the data did not decode as its type says (the event is then `raw`). */
  decodeError?: string;
}

function allDigestsEqual(e: TCGEvent, data: Buffer): boolean | undefined {
  let checked = 0;
  for (const d of e.digests) {
    if (!hashName(d.alg)) continue;
    if (!hashOf(d.alg, data).equals(d.digest)) return false;
    checked++;
  }
  return checked === 0 ? undefined : true;
}

function printable(b: Buffer): string {
  return b.toString('latin1').replace(/\0+$/, '');
}

const SIG_SB = new Set(['PK', 'KEK']);
const SIG_DB = new Set(['db', 'dbx', 'dbt', 'dbr']);
const SIG_SHIM = new Set(['MokList', 'MokListX', 'MokListRT', 'MokListXRT']);

function decodeVariable(e: TCGEvent): EventInfo {
  const v = parseVariableData(e.data);
  const info: Extract<EventInfo, { kind: 'variable' }> = { kind: 'variable', guid: v.guid, name: v.name, data: v.data };
  const global = v.guid === GUID.globalVariable;
  if (e.type === EV.EFI_VARIABLE_AUTHORITY) {
    const a = parseAuthority(v.data);
    if (a) info.authority = a;
  } else if (global && v.name === 'SecureBoot') {
    if (v.data.length > 1) throw new DecodeError(`SecureBoot holds ${v.data.length} bytes, not 1`);
    info.secureBoot = v.data.length === 1 && v.data[0] === 1;
  } else if ((global && SIG_SB.has(v.name)) || (v.guid === GUID.imageSecurityDatabase && SIG_DB.has(v.name)) || (v.guid === GUID.shimLock && SIG_SHIM.has(v.name))) {
    info.signatureLists = parseSignatureLists(v.data);
  } else if (global && v.name === 'BootOrder') {
    if (v.data.length % 2) throw new DecodeError('BootOrder has an odd length');
    info.bootOrder = Array.from({ length: v.data.length / 2 }, (_, i) => v.data.readUInt16LE(2 * i));
  } else if (global && /^(Boot|Driver|SysPrep)[0-9A-F]{4}$/.test(v.name)) {
    info.loadOption = parseLoadOption(v.data);
  }
  return info;
}

function decodeInfo(e: TCGEvent, first: boolean): EventInfo {
  switch (e.type) {
    case EV.NO_ACTION: {
      if (first && e.data.subarray(0, 15).toString('latin1') === 'Spec ID Event03') return { kind: 'spec-id' };
      const sig = e.data.subarray(0, 16);
      if (sig.toString('latin1') === 'StartupLocality\0' && e.data.length === 17) return { kind: 'startup-locality', locality: e.data[16]! };
      return { kind: 'no-action', signature: printable(sig) };
    }
    case EV.SEPARATOR: {
      if (e.data.length !== 4) throw new DecodeError(`a separator holds 4 bytes, this one ${e.data.length}`);
      const value = e.data.readUInt32LE(0);
      // 0 is the normal separator; 1 (PFP) and 0xffffffff (TCG EFI 1.2) mark a pre-OS error.
      // Windows separates PCRs 12-14 with "WBCL": not an error.
      return { kind: 'separator', value, error: value === 1 || value === 0xffffffff };
    }
    case EV.ACTION:
    case EV.EFI_ACTION:
    case EV.OMIT_BOOT_DEVICE_EVENTS:
      return { kind: 'action', text: printable(e.data) };
    case EV.S_CRTM_VERSION:
      return { kind: 'text', text: e.data.length % 2 === 0 && e.data.length >= 2 && e.data[1] === 0 ? ucs2(e.data) : printable(e.data) };
    case EV.IPL:
    case EV.POST_CODE:
      return { kind: 'text', text: e.data.length >= 2 && e.data[1] === 0 ? ucs2(e.data) : printable(e.data) };
    case EV.EFI_BOOT_SERVICES_APPLICATION:
    case EV.EFI_BOOT_SERVICES_DRIVER:
    case EV.EFI_RUNTIME_SERVICES_DRIVER: {
      const im = parseImageLoadEvent(e.data);
      return { kind: 'image', devicePath: im.devicePath, location: im.location, length: im.length };
    }
    default:
      if (VARIABLE_EVENTS.has(e.type)) return decodeVariable(e);
      return { kind: 'raw' };
  }
}

/** Decodes one event and checks its digests (see the file comment). Never throws on bad data. */
export function decodeTCGEvent(e: TCGEvent, opts: { first?: boolean } = {}): DecodedTCGEvent {
  let info: EventInfo;
  let decodeError: string | undefined;
  try {
    info = decodeInfo(e, opts.first ?? e.seq === 0);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    info = { kind: 'raw' };
    decodeError = err.message;
  }
  let digestCheck: DigestCheck;
  if (e.type === EV.NO_ACTION) {
    digestCheck = 'not-extended';
  } else {
    const whole = allDigestsEqual(e, e.data);
    if (whole === undefined) digestCheck = 'unverifiable';
    else if (whole) digestCheck = 'match';
    else if (info.kind === 'variable' && allDigestsEqual(e, info.data)) digestCheck = 'variable-data';
    else digestCheck = 'mismatch';
  }
  const trusted = digestCheck === 'match' && DATA_HASHED.has(e.type) && decodeError === undefined;
  return { seq: e.seq, pcr: e.pcr, type: e.type, typeName: eventTypeName(e.type), digestCheck, trusted, info, ...(decodeError !== undefined ? { decodeError } : {}) };
}

export function decodeTCGLog(log: TCGLog): DecodedTCGEvent[] {
  return log.events.map((e, i) => decodeTCGEvent(e, { first: i === 0 && log.format === 'crypto-agile' }));
}

// ------------------------------------------------------------------------------------------------
// What appraisal needs, from trusted events only (untrusted ones are listed, never used).

export const EBS_INVOCATION = 'Exit Boot Services Invocation';
export const EBS_SUCCESS = 'Exit Boot Services Returned with Success';
export const EBS_FAILURE = 'Exit Boot Services Returned with Failure';

export interface BootSummary {
  /** From a trusted EV_EFI_VARIABLE_DRIVER_CONFIG SecureBoot event; undefined when none. */
  secureBoot: { enabled: boolean; seq: number } | undefined;
  /** Secure Boot databases (PK, KEK, db, dbx, dbt, dbr) and shim's MOK lists, as measured. */
  databases: Record<string, { seq: number; signatureLists: SignatureList[] }>;
  bootOrder: { seq: number; order: number[]; trusted: boolean } | undefined;
  /** Boot#### options. EDK2 hashes only their contents, so most are reported untrusted. */
  bootOptions: Array<{ seq: number; name: string; option: LoadOption; trusted: boolean }>;
  /** Certificates that authorised images (EV_EFI_VARIABLE_AUTHORITY). */
  authorities: Array<{ seq: number; name: string; entry: SignatureEntry; trusted: boolean }>;
  /** Images started before ExitBootServices. The digest is the image's Authenticode hash, so the
   * path is never trusted: the image hash (in the event digest) is what identifies it. */
  applications: Array<{ seq: number; pcr: number; devicePath: DevicePath }>;
  separators: Array<{ seq: number; pcr: number; error: boolean; trusted: boolean }>;
  exitBootServices: {
    invocation: number | undefined;
    returned: { seq: number; success: boolean } | undefined;
    /** No ExitBootServices events in PCR 5: some firmware measures them into the TPM but the
     * kernel copies the log before they are logged (replay.ts retries with them appended). */
    missing: boolean;
  };
  /** Extended events whose data is not trusted. */
  untrusted: number[];
  /** Events of a data-hashed type whose digest does not match their data. */
  mismatched: number[];
  /** Facts an appraiser should look at (duplicates, variables after a separator, error separators). */
  warnings: string[];
}

export function bootSummary(decoded: readonly DecodedTCGEvent[]): BootSummary {
  const s: BootSummary = {
    secureBoot: undefined, databases: {}, bootOrder: undefined, bootOptions: [], authorities: [], applications: [], separators: [],
    exitBootServices: { invocation: undefined, returned: undefined, missing: true }, untrusted: [], mismatched: [], warnings: [],
  };
  const separated = new Set<number>();
  for (const d of decoded) {
    if (d.digestCheck === 'not-extended') continue;
    if (!d.trusted) s.untrusted.push(d.seq);
    if (d.digestCheck === 'mismatch' && DATA_HASHED.has(d.type)) s.mismatched.push(d.seq);
    if (d.decodeError !== undefined && DATA_HASHED.has(d.type)) s.warnings.push(`event ${d.seq} (${d.typeName}) does not decode: ${d.decodeError}`);
    const i = d.info;
    switch (i.kind) {
      case 'separator':
        s.separators.push({ seq: d.seq, pcr: d.pcr, error: i.error, trusted: d.trusted });
        if (d.trusted) separated.add(d.pcr);
        if (i.error) s.warnings.push(`event ${d.seq}: error separator in PCR ${d.pcr}`);
        break;
      case 'action':
        if (!d.trusted || d.pcr !== 5) break;
        if (i.text === EBS_INVOCATION) s.exitBootServices.invocation ??= d.seq;
        else if (i.text === EBS_SUCCESS || i.text === EBS_FAILURE) s.exitBootServices.returned ??= { seq: d.seq, success: i.text === EBS_SUCCESS };
        break;
      case 'image':
        if (d.type === EV.EFI_BOOT_SERVICES_APPLICATION) s.applications.push({ seq: d.seq, pcr: d.pcr, devicePath: i.devicePath });
        break;
      case 'variable':
        if (i.authority) {
          s.authorities.push({ seq: d.seq, name: i.name, entry: i.authority, trusted: d.trusted });
          break;
        }
        if (i.loadOption) s.bootOptions.push({ seq: d.seq, name: i.name, option: i.loadOption, trusted: d.trusted });
        if (i.bootOrder) {
          if (s.bootOrder) s.warnings.push(`event ${d.seq}: BootOrder measured again (first at event ${s.bootOrder.seq})`);
          else s.bootOrder = { seq: d.seq, order: i.bootOrder, trusted: d.trusted };
        }
        if (!d.trusted || d.type !== EV.EFI_VARIABLE_DRIVER_CONFIG) break;
        if (separated.has(d.pcr)) s.warnings.push(`event ${d.seq}: ${i.name} measured after the PCR ${d.pcr} separator`);
        if (i.secureBoot !== undefined) {
          if (s.secureBoot) s.warnings.push(`event ${d.seq}: SecureBoot measured again (first at event ${s.secureBoot.seq})`);
          else s.secureBoot = { enabled: i.secureBoot, seq: d.seq };
        }
        if (i.signatureLists) {
          if (s.databases[i.name]) s.warnings.push(`event ${d.seq}: ${i.name} measured again (first at event ${s.databases[i.name]!.seq})`);
          else s.databases[i.name] = { seq: d.seq, signatureLists: i.signatureLists };
        }
        break;
    }
  }
  s.exitBootServices.missing = s.exitBootServices.invocation === undefined && s.exitBootServices.returned === undefined;
  return s;
}


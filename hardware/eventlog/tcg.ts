// TCG PC Client measured-boot logs (/sys/kernel/security/tpm0/binary_bios_measurements): the
// SHA-1 format (TCG_PCR_EVENT, TPM 1.2 era) and the crypto-agile format (a TCG_PCR_EVENT holding
// the "Spec ID Event03" with the digest-size table, then TCG_PCR_EVENT2 records). Structure only:
// event data is decoded in efi.ts and replayed in replay.ts. Everything is little-endian.
import { TPM_ALG } from '../constants.ts';
import { EventLogError } from './errors.ts';
import { knownDigestSize } from './hash.ts';
import { TCG_LIMITS, resolveLimits, tooLarge, type EventLogLimits } from './limits.ts';
import { Reader, malformed, asBuffer } from './reader.ts';

/** TCG event types (PC Client PFP spec, section 10.4.1). */
export const EV = {
  PREBOOT_CERT: 0x0,
  POST_CODE: 0x1,
  UNUSED: 0x2,
  NO_ACTION: 0x3,
  SEPARATOR: 0x4,
  ACTION: 0x5,
  EVENT_TAG: 0x6,
  S_CRTM_CONTENTS: 0x7,
  S_CRTM_VERSION: 0x8,
  CPU_MICROCODE: 0x9,
  PLATFORM_CONFIG_FLAGS: 0xa,
  TABLE_OF_DEVICES: 0xb,
  COMPACT_HASH: 0xc,
  IPL: 0xd,
  IPL_PARTITION_DATA: 0xe,
  NONHOST_CODE: 0xf,
  NONHOST_CONFIG: 0x10,
  NONHOST_INFO: 0x11,
  OMIT_BOOT_DEVICE_EVENTS: 0x12,
  POST_CODE2: 0x13,
  EFI_EVENT_BASE: 0x80000000,
  EFI_VARIABLE_DRIVER_CONFIG: 0x80000001,
  EFI_VARIABLE_BOOT: 0x80000002,
  EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EFI_BOOT_SERVICES_DRIVER: 0x80000004,
  EFI_RUNTIME_SERVICES_DRIVER: 0x80000005,
  EFI_GPT_EVENT: 0x80000006,
  EFI_ACTION: 0x80000007,
  EFI_PLATFORM_FIRMWARE_BLOB: 0x80000008,
  EFI_HANDOFF_TABLES: 0x80000009,
  EFI_PLATFORM_FIRMWARE_BLOB2: 0x8000000a,
  EFI_HANDOFF_TABLES2: 0x8000000b,
  EFI_VARIABLE_BOOT2: 0x8000000c,
  EFI_GPT_EVENT2: 0x8000000d,
  EFI_HCRTM_EVENT: 0x80000010,
  EFI_VARIABLE_AUTHORITY: 0x800000e0,
  EFI_SPDM_FIRMWARE_BLOB: 0x800000e1,
  EFI_SPDM_FIRMWARE_CONFIG: 0x800000e2,
  EFI_SPDM_DEVICE_POLICY: 0x800000e3,
  EFI_SPDM_DEVICE_AUTHORITY: 0x800000e4,
} as const;

const EV_NAMES = new Map<number, string>(Object.entries(EV).map(([k, v]) => [v, `EV_${k}`]));

/** EV_SEPARATOR, EV_EFI_ACTION, … or 0x… for a type we do not know. */
export function eventTypeName(type: number): string {
  return EV_NAMES.get(type) ?? `0x${type.toString(16).padStart(8, '0')}`;
}

export interface TCGDigest {
  /** TPM_ALG of the digest. */
  alg: number;
  digest: Buffer;
}

export interface TCGEvent {
  /** Position in the log, 0-based; the Spec ID header event is 0 in a crypto-agile log. */
  seq: number;
  /** Byte offset of the event in the log. */
  offset: number;
  pcr: number;
  /** Event type: NOT covered by any digest, so it is a claim, never evidence. */
  type: number;
  /** One digest per bank (crypto-agile) or the SHA-1 digest (SHA-1 format). */
  digests: TCGDigest[];
  /** Event data (a view into the log). */
  data: Buffer;
}

export interface SpecIDAlgorithm {
  alg: number;
  digestSize: number;
}

export interface SpecIDEvent {
  signature: string;
  platformClass: number;
  specVersionMinor: number;
  specVersionMajor: number;
  specErrata: number;
  uintnSize: number;
  algorithms: SpecIDAlgorithm[];
  vendorInfo: Buffer;
}

export interface TCGLog {
  format: 'crypto-agile' | 'sha1';
  /** The Spec ID event of a crypto-agile log. */
  specID: SpecIDEvent | undefined;
  /** Banks the log carries digests for (the Spec ID table, or SHA-1). */
  algorithms: SpecIDAlgorithm[];
  events: TCGEvent[];
  /** Zero bytes after the last event (firmware log areas are zero-filled); nothing hides in them. */
  trailingZeros: number;
  /** Input size in bytes. */
  size: number;
}

const SPEC_ID_03 = Buffer.from('Spec ID Event03\0', 'latin1');
const MAX_ALGORITHMS = 16;

/** True when `b` holds only zero bytes from `from` on. */
function zerosFrom(b: Buffer, from: number): boolean {
  for (let i = from; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Extended events name a PCR (0..31; PC Client TPMs have 24). EV_NO_ACTION events extend
 * nothing, and Windows logs them with PCR index 0xffffffff. */
function checkPCR(r: Reader, pcr: number, type: number, at: number): void {
  if (pcr > 31 && type !== EV.NO_ACTION) throw malformed(r.what, at, `PCR index ${pcr} is out of range (0..31)`, { pcr });
}

/** The Spec ID Event03 body (TCG_EfiSpecIdEvent). */
function parseSpecID(data: Buffer, at: number): SpecIDEvent {
  const r = new Reader(data, 'Spec ID event');
  const signature = r.bytes(16, 'signature').toString('latin1').replace(/\0+$/, '');
  const platformClass = r.u32('platformClass');
  const specVersionMinor = r.u8('specVersionMinor');
  const specVersionMajor = r.u8('specVersionMajor');
  const specErrata = r.u8('specErrata');
  const uintnSize = r.u8('uintnSize');
  const n = r.u32('numberOfAlgorithms');
  if (n < 1 || n > MAX_ALGORITHMS) throw malformed('event log', at, `the Spec ID event lists ${n} algorithms (1..${MAX_ALGORITHMS} allowed)`);
  const algorithms: SpecIDAlgorithm[] = [];
  for (let i = 0; i < n; i++) {
    const alg = r.u16('algorithmId');
    const digestSize = r.u16('digestSize');
    const known = knownDigestSize(alg);
    if (known !== undefined && known !== digestSize) throw malformed('event log', at, `the Spec ID event gives ${digestSize} bytes for algorithm 0x${alg.toString(16)}, whose digests are ${known} bytes`);
    if (digestSize < 1 || digestSize > 64) throw malformed('event log', at, `the Spec ID event gives a digest size of ${digestSize} for algorithm 0x${alg.toString(16)}`);
    if (algorithms.some((a) => a.alg === alg)) throw malformed('event log', at, `the Spec ID event lists algorithm 0x${alg.toString(16)} twice`);
    algorithms.push({ alg, digestSize });
  }
  const vendorInfoSize = r.u8('vendorInfoSize');
  const vendorInfo = r.bytes(vendorInfoSize, 'vendorInfo');
  if (r.remaining !== 0) throw malformed('event log', at, `the Spec ID event has ${r.remaining} bytes after its vendor info`);
  return { signature, platformClass, specVersionMinor, specVersionMajor, specErrata, uintnSize, algorithms, vendorInfo };
}

/**
 * Parses a measured-boot log. Throws EventLogError: EVENTLOG_TRUNCATED, EVENTLOG_MALFORMED or
 * EVENTLOG_TOO_LARGE. No event content is trusted here; see efi.ts and replay.ts.
 */
export function parseTCGLog(bytes: Uint8Array, limits?: Partial<EventLogLimits>): TCGLog {
  const lim = resolveLimits(TCG_LIMITS, limits);
  if (!(bytes instanceof Uint8Array)) throw new EventLogError('EVENTLOG_MALFORMED', 'The event log must be bytes.');
  const buf = asBuffer(bytes);
  if (buf.length > lim.maxBytes) throw tooLarge(`event log (${buf.length} bytes)`, lim.maxBytes, 'bytes');
  if (buf.length === 0) throw new EventLogError('EVENTLOG_TRUNCATED', 'The event log is empty; read it from /sys/kernel/security/tpm0/binary_bios_measurements as root.');
  const r = new Reader(buf, 'event log');
  const events: TCGEvent[] = [];

  // The first event is always a TCG_PCR_EVENT (SHA-1 layout).
  const first = readSHA1Event(r, 0, lim);
  events.push(first);
  let format: TCGLog['format'] = 'sha1';
  let specID: SpecIDEvent | undefined;
  if (first.type === EV.NO_ACTION && first.data.length >= 16 && first.data.subarray(0, 16).equals(SPEC_ID_03)) {
    if (first.pcr !== 0 || !zerosFrom(first.digests[0]!.digest, 0)) throw malformed('event log', 0, 'the Spec ID event must be in PCR 0 with a zero digest');
    specID = parseSpecID(first.data, 0);
    format = 'crypto-agile';
  }
  const algorithms = specID ? specID.algorithms : [{ alg: TPM_ALG.SHA1, digestSize: 20 }];
  const sizeOf = new Map(algorithms.map((a) => [a.alg, a.digestSize]));

  let trailingZeros = 0;
  while (r.remaining > 0) {
    if (zerosFrom(buf, r.pos)) {
      trailingZeros = r.remaining;
      break;
    }
    if (events.length >= lim.maxEvents) throw tooLarge(`event log (more than ${lim.maxEvents} events)`, lim.maxEvents, 'events');
    events.push(format === 'sha1' ? readSHA1Event(r, events.length, lim) : readEvent2(r, events.length, sizeOf, lim));
  }
  return { format, specID, algorithms, events, trailingZeros, size: buf.length };
}

function readData(r: Reader, lim: EventLogLimits): Buffer {
  const size = r.u32('eventSize');
  if (size > lim.maxEventSize) throw tooLarge(`event at offset ${r.pos - 4} (${size} bytes of data)`, lim.maxEventSize, 'bytes');
  return r.bytes(size, 'event data');
}

function readSHA1Event(r: Reader, seq: number, lim: EventLogLimits): TCGEvent {
  const offset = r.pos;
  const pcr = r.u32('pcrIndex');
  const type = r.u32('eventType');
  checkPCR(r, pcr, type, offset);
  const digest = r.bytes(20, 'digest');
  const data = readData(r, lim);
  return { seq, offset, pcr, type, digests: [{ alg: TPM_ALG.SHA1, digest }], data };
}

function readEvent2(r: Reader, seq: number, sizeOf: Map<number, number>, lim: EventLogLimits): TCGEvent {
  const offset = r.pos;
  const pcr = r.u32('pcrIndex');
  const type = r.u32('eventType');
  checkPCR(r, pcr, type, offset);
  const count = r.u32('digest count');
  if (count > sizeOf.size) throw malformed(r.what, offset, `event ${seq} has ${count} digests but the log declares ${sizeOf.size} algorithms`, { seq });
  const digests: TCGDigest[] = [];
  for (let i = 0; i < count; i++) {
    const alg = r.u16('digest algorithm');
    const size = sizeOf.get(alg);
    if (size === undefined) throw malformed(r.what, r.pos - 2, `event ${seq} has a digest of algorithm 0x${alg.toString(16)}, which the Spec ID event does not declare`, { seq });
    if (digests.some((d) => d.alg === alg)) throw malformed(r.what, r.pos - 2, `event ${seq} has two digests of algorithm 0x${alg.toString(16)}`, { seq });
    digests.push({ alg, digest: r.bytes(size, 'digest') });
  }
  const data = readData(r, lim);
  return { seq, offset, pcr, type, digests, data };
}

/** The digest an event carries for `alg`, if any. */
export function eventDigest(e: TCGEvent, alg: number): Buffer | undefined {
  for (const d of e.digests) if (d.alg === alg) return d.digest;
  return undefined;
}

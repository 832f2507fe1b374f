// UEFI structures found in event data: GUIDs, UCS-2 strings, UEFI_VARIABLE_DATA,
// EFI_SIGNATURE_LISTs, EFI_LOAD_OPTIONs and device paths. Pure decoders over untrusted bytes:
// each throws DecodeError (a plain Error subclass kept inside efi.ts, which turns it into a
// decodeError string) and never reads out of bounds.
import { X509Certificate } from 'node:crypto';

export class DecodeError extends Error {}

function need(b: Buffer, at: number, n: number, what: string): void {
  if (at + n > b.length) throw new DecodeError(`${what} runs past the end of its data (${at + n} > ${b.length} bytes)`);
}

/** A GUID in its registry form (first three fields little-endian). */
export function guidAt(b: Buffer, at: number): string {
  need(b, at, 16, 'GUID');
  const h = (s: number, e: number) => b.subarray(s, e).toString('hex');
  const le = (s: number, n: number) => Buffer.from(b.subarray(s, s + n)).reverse().toString('hex');
  return `${le(at, 4)}-${le(at + 4, 2)}-${le(at + 6, 2)}-${h(at + 8, at + 10)}-${h(at + 10, at + 16)}`;
}

export const GUID = {
  globalVariable: '8be4df61-93ca-11d2-aa0d-00e098032b8c',
  imageSecurityDatabase: 'd719b2cb-3d3a-4596-a3bc-dad00e67656f',
  shimLock: '605dab50-e046-4300-abb6-3dd810dd8b23',
  certX509: 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072',
  certSHA256: 'c1c41626-504c-4092-aca9-41f936934328',
  certSHA1: '826ca512-cf10-4ac9-b187-be01496631bd',
  certRSA2048: '3c5766e8-269c-4e34-aa14-ed776e85b3b6',
  certX509SHA256: '3bd2a492-96c0-4079-b420-fcf98ef103ed',
} as const;

/** UCS-2 (UTF-16LE) text up to the first NUL or the end. */
export function ucs2(b: Buffer): string {
  let end = b.length & ~1;
  for (let i = 0; i + 1 < b.length; i += 2) {
    if (b[i] === 0 && b[i + 1] === 0) { end = i; break; }
  }
  return b.subarray(0, end).toString('utf16le');
}

export interface VariableData {
  guid: string;
  name: string;
  /** The variable's contents (VariableData): a view into the event data. */
  data: Buffer;
}

const MAX_NAME_CHARS = 1024;

/** UEFI_VARIABLE_DATA: VariableName GUID, UnicodeNameLength (u64, chars), VariableDataLength (u64),
 * UnicodeName, VariableData. */
export function parseVariableData(b: Buffer): VariableData {
  need(b, 0, 32, 'UEFI_VARIABLE_DATA header');
  const guid = guidAt(b, 0);
  const nameHi = b.readUInt32LE(20);
  const dataHi = b.readUInt32LE(28);
  const nameLen = b.readUInt32LE(16);
  const dataLen = b.readUInt32LE(24);
  if (nameHi !== 0 || dataHi !== 0 || nameLen > MAX_NAME_CHARS) throw new DecodeError('UEFI_VARIABLE_DATA has an impossible name or data length');
  need(b, 32, nameLen * 2 + dataLen, 'UEFI_VARIABLE_DATA');
  // Some firmware logs bytes after the declared data (and hashes them or not); they are kept out
  // of `data`, and the digest check in efi.ts decides whether the event is trusted.
  const name = b.subarray(32, 32 + nameLen * 2).toString('utf16le');
  return { guid, name, data: b.subarray(32 + nameLen * 2, 32 + nameLen * 2 + dataLen) };
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  fingerprint256: string;
  notBefore: string;
  notAfter: string;
  der: Buffer;
}

export interface SignatureEntry {
  owner: string;
  /** For EFI_CERT_X509: the certificate, or the reason it did not parse. */
  certificate?: CertificateInfo;
  certificateError?: string;
  /** For EFI_CERT_SHA256 (and SHA-1): the hash, hex. */
  hash?: string;
  /** The signature data (after the owner GUID). */
  data: Buffer;
}

export interface SignatureList {
  type: string;
  typeName: 'x509' | 'sha256' | 'sha1' | 'rsa2048' | 'x509-sha256' | 'other';
  signatures: SignatureEntry[];
}

function typeName(g: string): SignatureList['typeName'] {
  switch (g) {
    case GUID.certX509: return 'x509';
    case GUID.certSHA256: return 'sha256';
    case GUID.certSHA1: return 'sha1';
    case GUID.certRSA2048: return 'rsa2048';
    case GUID.certX509SHA256: return 'x509-sha256';
    default: return 'other';
  }
}

export function certificateInfo(der: Buffer): CertificateInfo {
  let c: X509Certificate;
  try {
    c = new X509Certificate(der);
  } catch (e) {
    throw new DecodeError(`not an X.509 certificate: ${(e as Error).message}`);
  }
  return { subject: c.subject, issuer: c.issuer, serialNumber: c.serialNumber, fingerprint256: c.fingerprint256, notBefore: c.validFrom, notAfter: c.validTo, der };
}

const MAX_SIGNATURES = 100_000;

/** A run of EFI_SIGNATURE_LISTs (the contents of PK, KEK, db, dbx, MokList). */
export function parseSignatureLists(b: Buffer): SignatureList[] {
  const lists: SignatureList[] = [];
  let at = 0;
  let total = 0;
  while (at < b.length) {
    need(b, at, 28, 'EFI_SIGNATURE_LIST header');
    const type = guidAt(b, at);
    const listSize = b.readUInt32LE(at + 16);
    const headerSize = b.readUInt32LE(at + 20);
    const sigSize = b.readUInt32LE(at + 24);
    if (listSize < 28 || listSize > b.length - at) throw new DecodeError(`EFI_SIGNATURE_LIST at ${at} has size ${listSize}, beyond its ${b.length - at} bytes`);
    if (headerSize > listSize - 28) throw new DecodeError(`EFI_SIGNATURE_LIST at ${at} has a header larger than the list`);
    const body = listSize - 28 - headerSize;
    if (sigSize < 16 || body % sigSize !== 0) throw new DecodeError(`EFI_SIGNATURE_LIST at ${at} has signatures of ${sigSize} bytes that do not divide its ${body} bytes`);
    const tn = typeName(type);
    const signatures: SignatureEntry[] = [];
    for (let s = at + 28 + headerSize; s < at + listSize; s += sigSize) {
      if (++total > MAX_SIGNATURES) throw new DecodeError(`more than ${MAX_SIGNATURES} signatures`);
      const data = b.subarray(s + 16, s + sigSize);
      const entry: SignatureEntry = { owner: guidAt(b, s), data };
      if (tn === 'x509') {
        try {
          entry.certificate = certificateInfo(data);
        } catch (e) {
          entry.certificateError = (e as Error).message;
        }
      } else if ((tn === 'sha256' && data.length === 32) || (tn === 'sha1' && data.length === 20)) {
        entry.hash = data.toString('hex');
      }
      signatures.push(entry);
    }
    lists.push({ type, typeName: tn, signatures });
    at += listSize;
  }
  return lists;
}

/** EFI_SIGNATURE_DATA (owner GUID + data) as measured in EV_EFI_VARIABLE_AUTHORITY, or a bare
 * certificate (shim measures its own and MOK certificates that way). */
export function parseAuthority(b: Buffer): SignatureEntry | undefined {
  const at = b.length > 17 && b[16] === 0x30 && b[17]! >= 0x80 ? 16 : b.length > 1 && b[0] === 0x30 && b[1]! >= 0x80 ? 0 : -1;
  // Shim also logs non-certificate authorities here (SbatLevel, MokListTrusted): not an error.
  if (at < 0) return undefined;
  const entry: SignatureEntry = { owner: at ? guidAt(b, 0) : '', data: b.subarray(at) };
  try {
    entry.certificate = certificateInfo(entry.data);
  } catch (e) {
    entry.certificateError = (e as Error).message;
  }
  return entry;
}

// ------------------------------------------------------------------------------------------------
// Device paths (UEFI spec 10.3) rendered in the spec's text form for the nodes boot paths use.

export interface DevicePath {
  text: string;
  /** The file path nodes joined (e.g. \EFI\ubuntu\shimx64.efi), if any. */
  file: string | undefined;
}

const MAX_NODES = 512;

function hex(b: Buffer): string {
  return b.toString('hex');
}

function nodeText(type: number, sub: number, d: Buffer): { text: string; file?: string } {
  const u8 = (o: number) => { need(d, o, 1, 'device path node'); return d[o]!; };
  const u16 = (o: number) => { need(d, o, 2, 'device path node'); return d.readUInt16LE(o); };
  const u32 = (o: number) => { need(d, o, 4, 'device path node'); return d.readUInt32LE(o); };
  const u64 = (o: number) => { need(d, o, 8, 'device path node'); return d.readBigUInt64LE(o); };
  const hx = (v: number | bigint) => `0x${v.toString(16)}`;
  if (type === 0x01 && sub === 0x01) return { text: `Pci(${hx(u8(1))},${hx(u8(0))})` };
  if (type === 0x01 && sub === 0x04) return { text: `VenHw(${guidAt(d, 0)})` };
  if (type === 0x02 && sub === 0x01) {
    const hid = u32(0);
    const uid = u32(4);
    if (hid === 0x0a0341d0) return { text: `PciRoot(${hx(uid)})` };
    if (hid === 0x0a0841d0) return { text: `PcieRoot(${hx(uid)})` };
    return { text: `Acpi(${hx(hid)},${hx(uid)})` };
  }
  if (type === 0x03) {
    switch (sub) {
      case 0x01: return { text: `Ata(${u8(0)},${u8(1)},${u16(2)})` };
      case 0x02: return { text: `Scsi(${hx(u16(0))},${hx(u16(2))})` };
      case 0x05: return { text: `USB(${hx(u8(0))},${hx(u8(1))})` };
      case 0x0a: return { text: `VenMsg(${guidAt(d, 0)})` };
      case 0x0b: { need(d, 0, 6, 'MAC node'); return { text: `MAC(${hex(d.subarray(0, 6))})` }; }
      case 0x12: return { text: `Sata(${hx(u16(0))},${hx(u16(2))},${hx(u16(4))})` };
      case 0x17: { need(d, 4, 8, 'NVMe node'); return { text: `NVMe(${hx(u32(0))},${hex(d.subarray(4, 12))})` }; }
      case 0x18: return { text: `Uri(${d.toString('latin1')})` };
    }
  }
  if (type === 0x04) {
    switch (sub) {
      case 0x01: {
        const part = u32(0);
        const start = u64(4);
        const size = u64(12);
        need(d, 20, 18, 'HD node');
        const fmt = d[36];
        const sigType = d[37];
        const sig = sigType === 0x02 ? guidAt(d, 20) : hx(d.readUInt32LE(20));
        return { text: `HD(${part},${fmt === 0x02 ? 'GPT' : 'MBR'},${sig},${hx(start)},${hx(size)})` };
      }
      case 0x02: return { text: `CDROM(${hx(u32(0))})` };
      case 0x03: return { text: `VenMedia(${guidAt(d, 0)})` };
      case 0x04: { const f = ucs2(d); return { text: f, file: f }; }
      case 0x06: return { text: `FvFile(${guidAt(d, 0)})` };
      case 0x07: return { text: `Fv(${guidAt(d, 0)})` };
      case 0x08: return { text: `Offset(${hx(u64(4))},${hx(u64(12))})` };
    }
  }
  if (type === 0x05 && sub === 0x01) return { text: `BBS(${hx(u16(0))})` };
  return { text: `Path(${type},${sub},${hex(d)})` };
}

/** Renders a device path; stops at End Entire Device Path or the end of the bytes. */
export function parseDevicePath(b: Buffer): DevicePath {
  const parts: string[] = [];
  const files: string[] = [];
  let at = 0;
  let nodes = 0;
  while (at < b.length) {
    need(b, at, 4, 'device path node header');
    const type = b[at]!;
    const sub = b[at + 1]!;
    const len = b.readUInt16LE(at + 2);
    if (len < 4 || at + len > b.length) throw new DecodeError(`device path node at ${at} has length ${len}`);
    if (++nodes > MAX_NODES) throw new DecodeError(`device path has more than ${MAX_NODES} nodes`);
    if (type === 0x7f) {
      if (sub === 0xff) break;
      parts.push(',');
      at += len;
      continue;
    }
    const n = nodeText(type, sub, b.subarray(at + 4, at + len));
    parts.push(parts.length && parts[parts.length - 1] !== ',' ? `/${n.text}` : n.text);
    if (n.file !== undefined) files.push(n.file);
    at += len;
  }
  const file = files.length ? files.join('\\').replace(/\\\\+/g, '\\') : undefined;
  return { text: parts.join(''), file };
}

export interface LoadOption {
  attributes: number;
  /** LOAD_OPTION_ACTIVE is set. */
  active: boolean;
  description: string;
  devicePath: DevicePath;
  optionalData: Buffer;
}

/** EFI_LOAD_OPTION (the contents of Boot####). */
export function parseLoadOption(b: Buffer): LoadOption {
  need(b, 0, 6, 'EFI_LOAD_OPTION header');
  const attributes = b.readUInt32LE(0);
  const pathLen = b.readUInt16LE(4);
  let end = 6;
  while (end + 1 < b.length && !(b[end] === 0 && b[end + 1] === 0)) end += 2;
  if (end + 1 >= b.length) throw new DecodeError('EFI_LOAD_OPTION description is not terminated');
  const description = b.subarray(6, end).toString('utf16le');
  const pathAt = end + 2;
  need(b, pathAt, pathLen, 'EFI_LOAD_OPTION file path list');
  return { attributes, active: (attributes & 1) === 1, description, devicePath: parseDevicePath(b.subarray(pathAt, pathAt + pathLen)), optionalData: b.subarray(pathAt + pathLen) };
}

export interface ImageLoadEvent {
  location: bigint;
  length: bigint;
  linkTimeAddress: bigint;
  devicePath: DevicePath;
}

/** UEFI_IMAGE_LOAD_EVENT (EV_EFI_BOOT_SERVICES_APPLICATION and the driver events). */
export function parseImageLoadEvent(b: Buffer): ImageLoadEvent {
  need(b, 0, 32, 'UEFI_IMAGE_LOAD_EVENT header');
  const pathLen = b.readBigUInt64LE(24);
  if (pathLen > BigInt(b.length - 32)) throw new DecodeError(`UEFI_IMAGE_LOAD_EVENT device path length ${pathLen} exceeds its ${b.length - 32} bytes`);
  return {
    location: b.readBigUInt64LE(0),
    length: b.readBigUInt64LE(8),
    linkTimeAddress: b.readBigUInt64LE(16),
    devicePath: parseDevicePath(b.subarray(32, 32 + Number(pathLen))),
  };
}

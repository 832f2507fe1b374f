// tpm2-tools file formats, so quotes travel between tollgate and tpm2_quote / tpm2_checkquote:
//
// * PCR selection strings, as tpm2-tools writes them: `sha256:0,1,2+sha1:all`.
// * The "serialized" PCR file of `tpm2_quote -o` / `tpm2_checkquote -f`: a little-endian dump of C
//   structs (tpm2-tools lib/pcr.c pcr_fwrite_serialized, tools/misc/tpm2_checkquote.c; measured
//   against tpm2-tools 5.4 on swtpm):
//     TPML_PCR_SELECTION   u32 count (≤ 16), then 16 × TPMS_PCR_SELECTION slots of 8 bytes:
//                          u16 hash, u8 sizeofSelect (≤ 4), u8 pcrSelect[4], u8 padding    = 132 bytes
//     u32 n                the number of TPML_DIGESTs that follow (the low half of tpm2_pcrs'
//                          size_t count; every tpm2-tools version writes and reads 4 bytes)
//     n × TPML_DIGEST      u32 count (≤ 8), then 8 × TPM2B_DIGEST slots of 66 bytes:
//                          u16 size, u8 buffer[64]                                       = 532 bytes
//   The digests, read across the TPML_DIGESTs in order, are the selected PCRs in selection order
//   (bank by bank, PCR index ascending). tpm2_quote groups them as its PCR_Read calls returned them;
//   we write groups of 8.
// * `-m` is a marshalled TPMS_ATTEST, `-s` a marshalled TPMT_SIGNATURE (the "tss" format), `-u` a
//   PEM public key or a marshalled TPM2B_PUBLIC (the tpm2_createak "tss" format).
import { TollgateError, type ErrorClass } from './errors.ts';
import { TPM_ALG, TPM_GENERATED_VALUE, digestSize, algName, hex32 } from './constants.ts';
import { unmarshal, marshal } from './marshal.ts';
import { TPMMarshalError } from './tpmerrors.ts';
import { TPMSAttest, TPMTSignature, TPM2BPublic, selectedPCRs, type TPMLPCRSelection, type TPMTPublic } from './types.ts';
import { fromPem, TpmCryptoError, type PublicKeyBytes } from './crypto/index.ts';
import { publicKeyOf } from './keys.ts';
import type { PCRValue } from './tpm.ts';

export type TPM2ToolsErrorCode = 'PCR_LIST_INVALID' | 'TPM2TOOLS_FILE_MALFORMED';

/**
 * PCR_LIST_INVALID (usage): a PCR selection string the user typed is wrong.
 * TPM2TOOLS_FILE_MALFORMED (denied): a file that should hold a tpm2-tools structure does not; when
 * verifying, such a file is a failed verification, never a crash.
 */
export class TPM2ToolsError extends TollgateError {
  constructor(code: TPM2ToolsErrorCode, message: string, errorClass: ErrorClass, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, errorClass, options);
    this.name = 'TPM2ToolsError';
  }
}

function malformed(what: string, why: string, cause?: unknown): TPM2ToolsError {
  return new TPM2ToolsError('TPM2TOOLS_FILE_MALFORMED', `The ${what} is not valid: ${why}.`, 'denied', cause === undefined ? undefined : { cause });
}

// ------------------------------------------------------------------------------------------------
// PCR selection strings

const BANKS: Readonly<Record<string, number>> = {
  sha1: TPM_ALG.SHA1, sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384, sha512: TPM_ALG.SHA512,
  sm3_256: TPM_ALG.SM3_256, sha3_256: TPM_ALG.SHA3_256, sha3_384: TPM_ALG.SHA3_384, sha3_512: TPM_ALG.SHA3_512,
};

/** PC Client TPMs have 24 PCRs; the serialized file has room for 32. */
export const MAX_PCR_INDEX = 23;

export function bankName(hash: number): string {
  for (const [k, v] of Object.entries(BANKS)) if (v === hash) return k;
  return algName(hash).toLowerCase();
}

function badList(s: string, why: string): TPM2ToolsError {
  return new TPM2ToolsError('PCR_LIST_INVALID',
    `PCR list "${s.length > 80 ? s.slice(0, 80) + '…' : s}" is not valid: ${why}. Write banks as ALG:PCRS joined by '+', e.g. sha256:0,1,2,3,4,5,6,7,16+sha1:0 (PCRS: indexes 0..${MAX_PCR_INDEX} separated by commas, or "all").`,
    'usage', { details: { pcrs: s.slice(0, 200) } });
}

/**
 * Parses a tpm2-tools PCR selection (`sha256:0,1,2+sha1:all`) into a TPML_PCR_SELECTION with
 * 3-byte bitmaps (PCR_SELECT_MIN). Banks keep the order given; each bank may appear once.
 */
export function parsePCRList(s: string): TPMLPCRSelection {
  if (typeof s !== 'string' || s.trim() === '') throw badList(String(s ?? ''), 'it is empty');
  if (s.length > 1024) throw badList(s, 'it is too long');
  const out: TPMLPCRSelection = [];
  for (const part of s.trim().split('+')) {
    const m = /^([a-z0-9_]+)\s*:(.*)$/i.exec(part.trim());
    if (!m) throw badList(s, `"${part}" is not ALG:PCRS`);
    const hash = BANKS[m[1]!.toLowerCase()];
    if (hash === undefined) throw badList(s, `"${m[1]}" is not a PCR bank (use ${Object.keys(BANKS).slice(0, 4).join(', ')})`);
    if (out.some((b) => b.hash === hash)) throw badList(s, `bank ${m[1]} appears twice`);
    const list = m[2]!.trim();
    const sel = new Uint8Array(3);
    if (list.toLowerCase() === 'all') {
      sel.fill(0xff);
    } else {
      if (list === '') throw badList(s, `bank ${m[1]} has no PCR indexes`);
      for (const item of list.split(',')) {
        const t = item.trim();
        if (!/^(\d{1,2}|0x[0-9a-f]{1,2})$/i.test(t)) throw badList(s, `"${item}" is not a PCR index`);
        const pcr = Number(t);
        if (pcr > MAX_PCR_INDEX) throw badList(s, `PCR ${pcr} is out of range (0..${MAX_PCR_INDEX})`);
        sel[pcr >> 3]! |= 1 << (pcr & 7);
      }
    }
    out.push({ hash, pcrSelect: sel });
  }
  if (out.length > 16) throw badList(s, 'more than 16 banks');
  return out;
}

/** The tpm2-tools string for a selection (inverse of parsePCRList). */
export function formatPCRList(sel: TPMLPCRSelection): string {
  return sel.map((b) => `${bankName(b.hash)}:${selectedPCRs(b).join(',')}`).join('+');
}

// ------------------------------------------------------------------------------------------------
// The serialized PCR file

const SEL_SLOTS = 16;
const SEL_SLOT = 8;
const SEL_BYTES = 4 + SEL_SLOTS * SEL_SLOT; // 132
const DIGEST_SLOTS = 8;
const DIGEST_SLOT = 2 + 64;
const DIGEST_LIST = 4 + DIGEST_SLOTS * DIGEST_SLOT; // 532
/** ARRAY_LEN(tpm2_pcrs.pcr_values) = TPM2_MAX_PCRS. */
const MAX_LISTS = 32;

/** Size of a serialized PCR file holding `lists` TPML_DIGESTs. */
export function serializedPCRsSize(lists: number): number {
  return SEL_BYTES + 4 + lists * DIGEST_LIST;
}

/** The (hash, pcr) pairs a selection names, in digest order. */
export function selectionOrder(sel: TPMLPCRSelection): Array<{ hash: number; pcr: number }> {
  const out: Array<{ hash: number; pcr: number }> = [];
  for (const b of sel) for (const pcr of selectedPCRs(b)) out.push({ hash: b.hash, pcr });
  return out;
}

/**
 * Writes the serialized PCR file for `values` (one per selected PCR, any order; each must match a
 * PCR of `selection` and every selected PCR must have a value).
 */
export function encodeSerializedPCRs(selection: TPMLPCRSelection, values: readonly PCRValue[]): Buffer {
  if (selection.length > SEL_SLOTS) throw new TPM2ToolsError('PCR_LIST_INVALID', `A PCR file holds at most ${SEL_SLOTS} banks; ${selection.length} given.`, 'usage');
  const order = selectionOrder(selection);
  const byKey = new Map(values.map((v) => [`${v.hash}:${v.pcr}`, v.digest] as const));
  if (byKey.size !== values.length || values.length !== order.length) {
    throw new TPM2ToolsError('PCR_LIST_INVALID', `The PCR values (${values.length}) do not match the selection (${order.length} PCRs), or repeat a PCR.`, 'usage');
  }
  const digests = order.map(({ hash, pcr }) => {
    const d = byKey.get(`${hash}:${pcr}`);
    if (!d) throw new TPM2ToolsError('PCR_LIST_INVALID', `No value for PCR ${bankName(hash)}:${pcr}.`, 'usage');
    if (d.length !== digestSize(hash) || d.length > 64) throw new TPM2ToolsError('PCR_LIST_INVALID', `The value of PCR ${bankName(hash)}:${pcr} is ${d.length} bytes, not a ${bankName(hash)} digest.`, 'usage');
    return d;
  });
  const lists = Math.ceil(digests.length / DIGEST_SLOTS);
  if (lists > MAX_LISTS) throw new TPM2ToolsError('PCR_LIST_INVALID', `Too many PCRs for a PCR file (${digests.length}).`, 'usage');
  const out = Buffer.alloc(serializedPCRsSize(lists));
  out.writeUInt32LE(selection.length, 0);
  selection.forEach((b, i) => {
    const at = 4 + i * SEL_SLOT;
    if (b.pcrSelect.length > 4) {
      if (b.pcrSelect.subarray(4).some((x) => x !== 0)) throw new TPM2ToolsError('PCR_LIST_INVALID', 'PCRs above 31 cannot be written to a PCR file.', 'usage');
    }
    const n = Math.min(4, b.pcrSelect.length);
    out.writeUInt16LE(b.hash, at);
    out.writeUInt8(n, at + 2);
    out.set(b.pcrSelect.subarray(0, n), at + 3);
  });
  out.writeUInt32LE(lists, SEL_BYTES);
  for (let l = 0; l < lists; l++) {
    const base = SEL_BYTES + 4 + l * DIGEST_LIST;
    const chunk = digests.slice(l * DIGEST_SLOTS, (l + 1) * DIGEST_SLOTS);
    out.writeUInt32LE(chunk.length, base);
    chunk.forEach((d, k) => {
      out.writeUInt16LE(d.length, base + 4 + k * DIGEST_SLOT);
      out.set(d, base + 4 + k * DIGEST_SLOT + 2);
    });
  }
  return out;
}

/** Parses a serialized PCR file into its selection and the values (selection order). */
export function parseSerializedPCRs(bytes: Uint8Array): { selection: TPMLPCRSelection; values: PCRValue[] } {
  const what = 'PCR file (tpm2-tools serialized format)';
  if (!(bytes instanceof Uint8Array)) throw malformed(what, 'no bytes');
  if (bytes.length < SEL_BYTES + 4) throw malformed(what, `it is ${bytes.length} bytes, shorter than the ${SEL_BYTES + 4}-byte header`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = b.readUInt32LE(0);
  if (count > SEL_SLOTS) throw malformed(what, `it claims ${count} PCR banks; at most ${SEL_SLOTS} exist`);
  const selection: TPMLPCRSelection = [];
  for (let i = 0; i < count; i++) {
    const at = 4 + i * SEL_SLOT;
    const hash = b.readUInt16LE(at);
    const size = digestSize(hash);
    if (size === undefined) throw malformed(what, `bank ${i + 1} has unknown hash algorithm ${algName(hash)}`);
    if (selection.some((s) => s.hash === hash)) throw malformed(what, `bank ${bankName(hash)} appears twice`);
    const n = b.readUInt8(at + 2);
    if (n > 4) throw malformed(what, `bank ${bankName(hash)} has a ${n}-byte PCR bitmap; at most 4 fit`);
    selection.push({ hash, pcrSelect: Buffer.from(b.subarray(at + 3, at + 3 + n)) });
  }
  const lists = b.readUInt32LE(SEL_BYTES);
  if (lists > MAX_LISTS) throw malformed(what, `it claims ${lists} digest lists; at most ${MAX_LISTS} fit`);
  if (b.length !== serializedPCRsSize(lists)) throw malformed(what, `it is ${b.length} bytes, but ${lists} digest list(s) make ${serializedPCRsSize(lists)}`);
  const order = selectionOrder(selection);
  const values: PCRValue[] = [];
  for (let l = 0; l < lists; l++) {
    const base = SEL_BYTES + 4 + l * DIGEST_LIST;
    const n = b.readUInt32LE(base);
    if (n < 1 || n > DIGEST_SLOTS) throw malformed(what, `digest list ${l + 1} claims ${n} digests; each holds 1..${DIGEST_SLOTS}`);
    for (let k = 0; k < n; k++) {
      const at = base + 4 + k * DIGEST_SLOT;
      const size = b.readUInt16LE(at);
      const slot = order[values.length];
      if (!slot) throw malformed(what, `it holds more digests than its selection names (${order.length})`);
      if (size !== digestSize(slot.hash)) throw malformed(what, `the digest for ${bankName(slot.hash)}:${slot.pcr} is ${size} bytes, not ${digestSize(slot.hash)}`);
      values.push({ hash: slot.hash, pcr: slot.pcr, digest: Buffer.from(b.subarray(at + 2, at + 2 + size)) });
    }
  }
  if (values.length !== order.length) throw malformed(what, `its selection names ${order.length} PCRs but it holds ${values.length} digests`);
  return { selection, values };
}

// ------------------------------------------------------------------------------------------------
// TPMS_ATTEST, TPMT_SIGNATURE and public key files

const MAX_FILE = 64 * 1024;

function decode<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TPMMarshalError || e instanceof TpmCryptoError) throw malformed(what, e.message.replace(/\.$/, ''), e);
    throw e;
  }
}

/** A `-m` file: one marshalled TPMS_ATTEST made by a TPM (magic TPM_GENERATED_VALUE). */
export function parseAttestFile(bytes: Uint8Array): TPMSAttest {
  if (bytes.length > MAX_FILE) throw malformed('attestation (TPMS_ATTEST)', `it is ${bytes.length} bytes, far more than any TPM produces`);
  const a = decode('attestation (TPMS_ATTEST)', () => unmarshal(TPMSAttest, bytes));
  if (a.magic !== TPM_GENERATED_VALUE) throw malformed('attestation (TPMS_ATTEST)', `its magic is ${hex32(a.magic)}, not TPM_GENERATED_VALUE (0xff544347), so a TPM did not make it`);
  return a;
}

/** A `-s` file in tpm2-tools' "tss" format: one marshalled TPMT_SIGNATURE. */
export function parseSignatureFile(bytes: Uint8Array): TPMTSignature {
  if (bytes.length > MAX_FILE) throw malformed('signature (TPMT_SIGNATURE)', `it is ${bytes.length} bytes, far more than any signature`);
  return decode('signature (TPMT_SIGNATURE)', () => unmarshal(TPMTSignature, bytes));
}

export function encodeSignatureFile(sig: TPMTSignature): Buffer {
  return marshal(TPMTSignature, sig);
}

/**
 * A `-u` public key: SPKI PEM, or a marshalled TPM2B_PUBLIC (tpm2-tools "tss" format). Returns the
 * key, and the TPMT_PUBLIC when the file had one.
 */
export function parsePublicFile(bytes: Uint8Array): { key: PublicKeyBytes; public?: TPMTPublic } {
  if (bytes.length > MAX_FILE) throw malformed('public key', `it is ${bytes.length} bytes, far more than any public key`);
  const text = Buffer.from(bytes).toString('latin1');
  if (text.trimStart().startsWith('-----BEGIN')) return { key: decode('public key (PEM)', () => fromPem(text)) };
  const pub = decode('public key (TPM2B_PUBLIC)', () => unmarshal(TPM2BPublic, bytes));
  return { key: decode('public key (TPM2B_PUBLIC)', () => publicKeyOf(pub)), public: pub };
}

export function encodePublicFile(pub: TPMTPublic): Buffer {
  return marshal(TPM2BPublic, pub);
}

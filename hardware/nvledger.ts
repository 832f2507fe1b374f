// The ledger's NV index: a TPM-held running hash of every ledger record (agent/ledger/ extends each
// record's hash into it). Defined once, idempotently, by `tollgate tpm provision` or lazily by the
// ledger on first use.
//
//   handle      0x0150005F by default (owner range): the last handle of the 0x40-handle block that
//               starts at the TUF anchor (0x01500020; the anchor, its counters and epoch records
//               use anchor+0x00..+0x33, tuf/anchor.ts), so an anchor moved with `init --nv-index`
//               takes its ledger index along (agent/ledger/ledger.ts: ledgerIndexFor), and anchors
//               0x40 apart never collide with each other's ledger. The EK certificates 0x01c0xxxx
//               and EK policy 0x01c07fxx belong to the manufacturer.
//   type        TPM_NT_EXTEND: the only write is NV_Extend, value := SHA-256(value ‖ data), so
//               the TPM keeps a chain nobody can set to a chosen value. Unwritten, it has no value
//               (NV_Read answers TPM_RC_NV_UNINITIALIZED); the first extend starts from 32 zero
//               bytes. Not a PCR: PCRs 16 and 23 are resettable and shared with other software.
//   nameAlg     SHA-256, 32 bytes of data.
//   attributes  OWNERWRITE (only owner authorization extends it), OWNERREAD | AUTHREAD with an empty
//               index authValue (anyone may read or NV_Certify it: the value is not secret), NO_DA
//               (a killed reader must not count towards dictionary-attack lockout). Not ORDERLY
//               (an orderly index can lose extends on an unorderly shutdown) and not CLEAR_STCLEAR.
//
// What this cannot stop: whoever holds owner authorization can undefine and redefine the index and
// extend a forged chain into it. The Name does not change (it covers handle, nameAlg, attributes,
// policy and size, all the same again), so a local check cannot tell. Remote verifiers are not
// fooled: they compare the chain head with records they already acknowledged, and an NV_Certify by
// the AK (nvcertify.ts) proves which value this TPM holds now.
import { createHash } from 'node:crypto';
import { TPM_ALG, TPM_NT, TPM_RH, TPMA_NV, hex32, nvType } from './constants.ts';
import { TPMError } from './rc.ts';
import { nvName } from './crypto/index.ts';
import { ProvisionError, requireAK } from './provision.ts';
import { verifyNVCertify } from './nvcertify.ts';
import type { TPM } from './tpm.ts';
import type { Authorization } from './session.ts';
import type { TPMSNVPublic, TPMTPublic } from './types.ts';

/** Where the ledger index sits relative to the TUF anchor's handle. */
export const LEDGER_NV_OFFSET = 0x3f;
export const LEDGER_NV_INDEX = 0x01500020 + LEDGER_NV_OFFSET;
export const LEDGER_NV_SIZE = 32;
export const LEDGER_NV_ATTRIBUTES = (TPM_NT.EXTEND << 4) | TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA;

/** The public area of the ledger index as we define it (`written`: as the TPM reports it after the first extend). */
export function ledgerIndexPublic(index: number = LEDGER_NV_INDEX, written = false): TPMSNVPublic {
  return { nvIndex: index, nameAlg: TPM_ALG.SHA256, attributes: (LEDGER_NV_ATTRIBUTES | (written ? TPMA_NV.WRITTEN : 0)) >>> 0, authPolicy: new Uint8Array(0), dataSize: LEDGER_NV_SIZE };
}

/** The index's Name (nameAlg ‖ SHA-256(TPMS_NV_PUBLIC)); it changes once, when the first extend sets TPMA_NV_WRITTEN. */
export function ledgerIndexName(index: number = LEDGER_NV_INDEX, written = false): Buffer {
  const p = ledgerIndexPublic(index, written);
  return Buffer.from(nvName({ nvIndex: p.nvIndex, nameAlg: 'sha256', attributes: p.attributes, authPolicy: p.authPolicy, dataSize: p.dataSize }));
}

/** What NV_Extend makes of `value` (32 zero bytes for an unwritten index) and `data`. */
export function nvExtendValue(value: Uint8Array, data: Uint8Array): Buffer {
  return createHash('sha256').update(value).update(data).digest();
}

export interface LedgerIndexStatus {
  index: number;
  state: 'absent' | 'ours' | 'foreign';
  /** Why a defined index is not ours. */
  reason?: string;
  /** TPMA_NV_WRITTEN: at least one extend happened. */
  written: boolean;
  /** The Name the TPM reports (with WRITTEN as it is now). */
  name?: Buffer;
}

function isUndefinedIndex(e: unknown): boolean {
  return e instanceof TPMError && e.info.base === 0x08b;
}

function mismatch(p: TPMSNVPublic): string | undefined {
  const want = ledgerIndexPublic(p.nvIndex);
  if (nvType(p.attributes) !== TPM_NT.EXTEND) return `it is of type ${nvType(p.attributes)}, not an extend index (TPM_NT_EXTEND = 4)`;
  if (p.nameAlg !== want.nameAlg) return `its nameAlg is 0x${p.nameAlg.toString(16)}, not SHA-256`;
  if (p.dataSize !== want.dataSize) return `it holds ${p.dataSize} bytes, not ${want.dataSize}`;
  if (p.authPolicy.length !== 0) return 'it has an authorization policy';
  const attrs = (p.attributes & ~TPMA_NV.WRITTEN) >>> 0;
  if (attrs !== want.attributes) return `its attributes are 0x${attrs.toString(16)}, not 0x${want.attributes.toString(16)} (owner-only extend, readable without authorization, no DA)`;
  return undefined;
}

/** What is at the ledger index. Changes nothing. */
export async function inspectLedgerIndex(tpm: TPM, index: number = LEDGER_NV_INDEX): Promise<LedgerIndexStatus> {
  let r: Awaited<ReturnType<TPM['nvReadPublic']>>;
  try {
    r = await tpm.nvReadPublic(index);
  } catch (e) {
    if (isUndefinedIndex(e)) return { index, state: 'absent', written: false };
    throw e;
  }
  const why = mismatch(r.nvPublic);
  const written = (r.nvPublic.attributes & TPMA_NV.WRITTEN) !== 0;
  return { index, state: why ? 'foreign' : 'ours', ...(why ? { reason: why } : {}), written, name: r.nvName };
}

function foreign(s: LedgerIndexStatus): ProvisionError {
  return new ProvisionError('PROVISION_FOREIGN_OBJECT',
    `NV index ${hex32(s.index)}, where tollgate keeps its ledger anchor, holds another index: ${s.reason}. Nothing was changed. If that index is not needed, remove it (tpm2_nvundefine ${hex32(s.index)} -C o) and try again; otherwise this TPM is managed by other software.`,
    { details: { index: hex32(s.index), reason: s.reason, name: s.name?.toString('hex') } });
}

/**
 * Defines the ledger index unless it exists (idempotent). Throws ProvisionError
 * (PROVISION_FOREIGN_OBJECT), with nothing changed, when the handle holds an index that is not ours.
 */
export async function defineLedgerIndex(tpm: TPM, opts: { index?: number; ownerAuth?: Authorization } = {}): Promise<{ index: number; created: boolean; status: LedgerIndexStatus }> {
  const index = opts.index ?? LEDGER_NV_INDEX;
  const before = await inspectLedgerIndex(tpm, index);
  if (before.state === 'foreign') throw foreign(before);
  if (before.state === 'ours') return { index, created: false, status: before };
  const p = ledgerIndexPublic(index);
  await tpm.nvDefineSpace({ nvIndex: index, dataSize: p.dataSize, attributes: p.attributes, nameAlg: p.nameAlg },
    { authHandle: TPM_RH.OWNER, ...(opts.ownerAuth !== undefined ? { authorization: opts.ownerAuth } : {}) });
  const after = await inspectLedgerIndex(tpm, index);
  if (after.state !== 'ours') throw foreign(after);
  return { index, created: true, status: after };
}

/**
 * The index's value, read through the connection's secure session (its response HMAC means nobody
 * on the bus can hand us another value). An unwritten index reads as 32 zero bytes, written: false.
 */
export async function readLedgerIndex(tpm: TPM, index: number = LEDGER_NV_INDEX): Promise<{ written: boolean; value: Buffer }> {
  const s = await inspectLedgerIndex(tpm, index);
  if (s.state === 'foreign') throw foreign(s);
  if (s.state === 'absent') throw new ProvisionError('PROVISION_NOT_PROVISIONED', `This TPM has no ledger index at ${hex32(index)}; run 'tollgate tpm provision'.`);
  if (!s.written) return { written: false, value: Buffer.alloc(LEDGER_NV_SIZE) };
  const value = await tpm.nvRead(index, { authHandle: index, authorization: '', size: LEDGER_NV_SIZE, offset: 0, secure: true });
  return { written: true, value };
}

/** Extends `digest` into the index with owner authorization (through the secure session: nobody can change what is extended). */
export async function extendLedgerIndex(tpm: TPM, digest: Uint8Array, opts: { index?: number; ownerAuth?: Authorization } = {}): Promise<void> {
  await tpm.nvExtend(opts.index ?? LEDGER_NV_INDEX, digest, { authHandle: TPM_RH.OWNER, authorization: opts.ownerAuth ?? '' });
}

export interface LedgerCertification {
  /** The TPMS_ATTEST (type TPM_ST_ATTEST_NV) as signed. */
  attestBytes: Buffer;
  /** The marshalled TPMT_SIGNATURE. */
  signatureBytes: Buffer;
  nonce: Buffer;
  /** The index Name the AK certified (written form). */
  indexName: Buffer;
  /** The index value the AK certified. */
  contents: Buffer;
  /** The AK's public area (for its PEM) and Name. */
  ak: { handle: number; public: TPMTPublic; name: Buffer };
}

/**
 * TPM2_NV_Certify of the ledger index by tollgate's AK over `nonce`, verified in software (the same
 * verifyNVCertify a remote party runs) before it is returned. Needs a provisioned AK and a written
 * index.
 */
export async function certifyLedgerIndex(tpm: TPM, nonce: Uint8Array, opts: { index?: number } = {}): Promise<LedgerCertification> {
  const index = opts.index ?? LEDGER_NV_INDEX;
  const ak = await requireAK(tpm);
  const r = await tpm.nvCertify(ak.handle, index, nonce, { authHandle: index, authorization: '', size: LEDGER_NV_SIZE, offset: 0 });
  const indexName = ledgerIndexName(index, true);
  const v = verifyNVCertify({ ak: ak.public, attest: r.attestBytes, signature: r.signatureBytes, nonce, indexName });
  return { attestBytes: r.attestBytes, signatureBytes: r.signatureBytes, nonce: Buffer.from(nonce), indexName, contents: v.contents, ak };
}

// The device side of remote attestation: tollgate evidence (attest/eat/PROFILE.md) made with the
// TPM. The order is fixed by the binding: read the PCRs, build every claim but the quote, quote
// with extraData = SHA-256(nonce ‖ claims digest), attach the quote, and have the device key sign
// the COSE_Sign1 (TPM2_Sign of the Sig_structure's SHA-256: the AK is restricted and cannot sign
// it). If a PCR or the IMA log moves between reading and quoting, everything is taken again.
import { readFileSync } from 'node:fs';
import {
  TPM_ALG, TPM2BPublic, TPMTPublic, marshal, pcrDigest, parsePCRList, selectedPCRs, certifyDeviceKey, inspectHandles,
  ProvisionError, AK_HANDLE, DEVICE_KEY_HANDLE, PERSISTENT_HANDLES, eventlog, hex32, readEKCertificates, ekCertMatches,
  type TPM, type HandleStatus, type TPMLPCRSelection, type TPMTPublic as TPMTPublicT, type TPMSQuoteInfo, type TPMSSignatureECC, type PCRValue,
} from '../../hardware/index.ts';
import { COSE_ALG, type CoseSigner } from '../cose/index.ts';
import {
  buildClaims, encodeEvidence, expectedQuoteExtraData, ueidFromEKPublic,
  type EventLogChunk, type EvidenceClaims, type InstalledSoftware, type KeyCertification, type LedgerHead, type PcrBank,
} from '../eat/index.ts';
import { AppraiseError } from './errors.ts';

/** Where Linux exposes the firmware's measured-boot log and IMA's log of the TPM it drives. */
export const KERNEL_BOOT_LOG = '/sys/kernel/security/tpm0/binary_bios_measurements';
export const KERNEL_IMA_LOG = '/sys/kernel/security/ima/binary_runtime_measurements';
/** The PCRs quoted when the caller names none: the firmware's, plus every PCR the logs sent extend. */
export const DEFAULT_PCRS = 'sha256:0,1,2,3,4,5,6,7';

const ATTEMPTS = 4;

// ------------------------------------------------------------------------------------------------
// The TPM-backed COSE signer

/** A CoseSigner that signs with a TPM ECC P-256 key by TPM2_Sign of the digest (ES256). */
export function tpmCoseSigner(tpm: TPM, opts: { handle?: number; kid?: Uint8Array } = {}): CoseSigner {
  const handle = opts.handle ?? DEVICE_KEY_HANDLE;
  return {
    alg: COSE_ALG.ES256,
    ...(opts.kid ? { kid: opts.kid } : {}),
    async sign(digest: Uint8Array) {
      const sig = await tpm.sign(handle, digest);
      const ecc = sig.signature as TPMSSignatureECC | null;
      if (sig.sigAlg !== TPM_ALG.ECDSA || !ecc || ecc.hash !== TPM_ALG.SHA256) {
        throw new AppraiseError('EVIDENCE_SIGNER_FAILED', `The key at ${hex32(handle)} signed with algorithm 0x${sig.sigAlg.toString(16)}, not ECDSA with SHA-256; it is not tollgate's device key (run 'tollgate tpm provision').`);
      }
      return { r: ecc.signatureR, s: ecc.signatureS };
    },
  };
}

// ------------------------------------------------------------------------------------------------
// The device's identity: EK (for the UEID), AK, device key and the AK's certification of it

export interface EvidenceIdentity {
  /** The EK's TPMT_PUBLIC bytes (the UEID is derived from them). */
  ekPublicArea: Uint8Array;
  ek: 'rsa' | 'ecc';
  ueid: Uint8Array;
  akPublic: TPMTPublicT;
  akName: Uint8Array;
  deviceKeyPublic: TPMTPublicT;
  deviceKeyName: Uint8Array;
  keyCertification: KeyCertification;
}

function notProvisioned(what: string): ProvisionError {
  return new ProvisionError('PROVISION_NOT_PROVISIONED', `This TPM has no tollgate ${what}; run 'tollgate tpm provision' first.`);
}

/**
 * The EK enrolment used when it chose itself (attest/enrol): the RSA EK when an EK certificate in
 * NV certifies it, else the ECC EK. (A device enrolled with a certificate from elsewhere names its
 * EK with `ek`.)
 */
async function enrolledEK(tpm: TPM, rsa: HandleStatus, ecc: HandleStatus): Promise<'rsa' | 'ecc'> {
  if (rsa.state === 'ours') {
    const certs = (await readEKCertificates(tpm)).certificates;
    if (certs.some((c) => ekCertMatches(c, rsa.public!))) return 'rsa';
  }
  return ecc.state === 'ours' ? 'ecc' : 'rsa';
}

/**
 * Reads what evidence names the device by: the EK public area (the EK enrolment used, see
 * enrolledEK), the AK and the device key; and has the AK certify the device
 * key (TPM2_Certify), unless a certification to reuse is given. A long-running agent calls this
 * once and passes the result to every createEvidence().
 */
export async function evidenceIdentity(tpm: TPM, opts: { ek?: 'rsa' | 'ecc'; keyCertification?: KeyCertification } = {}): Promise<EvidenceIdentity> {
  const status = await inspectHandles(tpm, ['ek-rsa', 'ek-ecc', 'ak', 'device']);
  const at = (role: string) => status.find((s) => s.role === role)!;
  for (const role of ['ak', 'device'] as const) {
    const s = at(role);
    if (s.state === 'absent') throw notProvisioned(role === 'ak' ? `AK at ${hex32(PERSISTENT_HANDLES.ak)}` : `device key at ${hex32(PERSISTENT_HANDLES.device)}`);
    if (s.state === 'foreign') throw new ProvisionError('PROVISION_FOREIGN_OBJECT', `The object at ${hex32(s.handle)} is not tollgate's ${role === 'ak' ? 'AK' : 'device key'} (${s.reason}); evidence cannot be made with it.`);
  }
  const ek = opts.ek ?? await enrolledEK(tpm, at('ek-rsa'), at('ek-ecc'));
  const eks = at(ek === 'rsa' ? 'ek-rsa' : 'ek-ecc');
  if (eks.state !== 'ours') throw notProvisioned(`${ek.toUpperCase()} EK at ${hex32(eks.handle)}`);
  const ak = at('ak');
  const dev = at('device');
  let keyCertification = opts.keyCertification;
  if (!keyCertification) {
    const c = await certifyDeviceKey(tpm, { akHandle: AK_HANDLE, deviceHandle: DEVICE_KEY_HANDLE });
    keyCertification = { attest: c.attestBytes, signature: c.signatureBytes, akPublic: marshal(TPM2BPublic, ak.public!), deviceKeyPublic: marshal(TPM2BPublic, dev.public!) };
  }
  const ekPublicArea = marshal(TPMTPublic, eks.public!);
  return {
    ekPublicArea, ek, ueid: ueidFromEKPublic(ekPublicArea),
    akPublic: ak.public!, akName: ak.name!, deviceKeyPublic: dev.public!, deviceKeyName: dev.name!, keyCertification,
  };
}

// ------------------------------------------------------------------------------------------------
// Logs

/** A log to send: its bytes, a file to read, or false for none. */
export type LogSource = Uint8Array | string | false;

interface LogInput {
  data: Buffer;
  /** Where it was read from (re-read to see whether it grew), or undefined for given bytes. */
  path: string | undefined;
}

function readLog(source: LogSource | undefined, kernelPath: string, useKernel: boolean, what: string): LogInput | undefined {
  if (source === false) return undefined;
  if (source instanceof Uint8Array) return { data: Buffer.from(source), path: undefined };
  const path = source ?? (useKernel ? kernelPath : undefined);
  if (path === undefined) return undefined;
  try {
    return { data: readFileSync(path), path };
  } catch (e) {
    // The kernel's log is sent when present and readable; a file the caller named must be there.
    if (source === undefined) return undefined;
    throw new AppraiseError('EVIDENCE_LOG_UNREADABLE', `Cannot read the ${what} ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path and that you may read it (the kernel's logs need root).`, { cause: e, details: { path } });
  }
}

function logError(what: string, e: unknown): AppraiseError {
  return new AppraiseError('EVIDENCE_LOG_INVALID', `The ${what} is not one tollgate can send: ${(e as Error).message}`, { cause: e });
}

// ------------------------------------------------------------------------------------------------
// Evidence

export interface CreateEvidenceOptions {
  /** The verifier's challenge, 8 to 64 bytes. */
  nonce: Uint8Array;
  /** PCRs to quote (tpm2-tools form or a selection). Default DEFAULT_PCRS plus the PCRs the logs extend. */
  pcrs?: string | TPMLPCRSelection;
  /**
   * The measured-boot log: bytes, a file, or false for none. Default: the kernel's
   * (KERNEL_BOOT_LOG) when readable and the TPM is the kernel's (a device: URI); a swtpm's PCRs
   * are not what the kernel's log describes.
   */
  eventLog?: LogSource;
  /** The IMA log (binary_runtime_measurements), same rules (KERNEL_IMA_LOG). */
  imaLog?: LogSource;
  /** Send IMA entries from this index on (the verifier has appraised the ones before). Default 0. */
  imaOffset?: number;
  /** What the gate installed. */
  installed?: InstalledSoftware[];
  ledgerHead?: LedgerHead;
  /** From evidenceIdentity(), to reuse; default: read (and certify) now. */
  identity?: EvidenceIdentity;
  swversion?: string;
  /** Default: now. */
  now?: Date;
}

export interface CreatedEvidence {
  /** The COSE_Sign1 (application/eat+cwt). */
  bytes: Uint8Array;
  claims: EvidenceClaims;
  identity: EvidenceIdentity;
  selection: TPMLPCRSelection;
  /** What each log contributed: where from, bytes, events. */
  logs: Array<{ format: EventLogChunk['format']; source: string; bytes: number; firstEvent: number; events: number }>;
  /** Times the PCRs or the IMA log moved while quoting (each costs one more quote). */
  retries: number;
}

function selectionFor(opt: CreateEvidenceOptions['pcrs'], extraPCRs: Set<number>): TPMLPCRSelection {
  if (opt !== undefined) {
    const sel = typeof opt === 'string' ? parsePCRList(opt) : opt;
    if (sel.every((b) => selectedPCRs(b).length === 0)) throw new AppraiseError('EVIDENCE_INPUT_INVALID', 'No PCRs selected; name at least one, e.g. sha256:0,1,2,3,4,5,6,7.');
    return sel;
  }
  const pcrs = new Set([...selectedPCRs(parsePCRList(DEFAULT_PCRS)[0]!), ...[...extraPCRs].filter((p) => p <= 23)]);
  return parsePCRList(`sha256:${[...pcrs].sort((a, b) => a - b).join(',')}`);
}

function banksOf(values: readonly PCRValue[]): PcrBank[] {
  const out: PcrBank[] = [];
  for (const v of values) {
    let b = out.find((x) => x.hashAlg === v.hash);
    if (!b) out.push(b = { hashAlg: v.hash, values: [] });
    b.values.push({ pcr: v.pcr, digest: v.digest });
  }
  return out;
}

interface PreparedLogs {
  chunks: EventLogChunk[];
  pcrs: Set<number>;
  report: CreatedEvidence['logs'];
  imaPath: string | undefined;
  imaBytes: number;
}

function prepareLogs(boot: LogInput | undefined, ima: LogInput | undefined, imaOffset: number): PreparedLogs {
  const chunks: EventLogChunk[] = [];
  const pcrs = new Set<number>();
  const report: CreatedEvidence['logs'] = [];
  if (boot) {
    let log: eventlog.TCGLog;
    try {
      log = eventlog.parseTCGLog(boot.data);
    } catch (e) {
      throw logError(`measured-boot log${boot.path ? ` ${boot.path}` : ''}`, e);
    }
    for (const e of log.events) if (e.type !== eventlog.EV.NO_ACTION) pcrs.add(e.pcr);
    chunks.push({ format: 'tcg-pc-client', offset: 0, firstEvent: 0, data: boot.data });
    report.push({ format: 'tcg-pc-client', source: boot.path ?? '(given)', bytes: boot.data.length, firstEvent: 0, events: log.events.length });
  }
  if (ima) {
    let entries: eventlog.IMAEntry[];
    try {
      entries = eventlog.parseIMABinary(ima.data).entries;
    } catch (e) {
      throw logError(`IMA log${ima.path ? ` ${ima.path}` : ''} (binary_runtime_measurements)`, e);
    }
    if (imaOffset > entries.length) {
      throw new AppraiseError('EVIDENCE_INPUT_INVALID', `The IMA log has ${entries.length} entries; it cannot be sent from entry ${imaOffset} on (the machine rebooted? then send it whole).`, { details: { entries: entries.length, imaOffset } });
    }
    const offset = imaOffset === entries.length ? ima.data.length : entries[imaOffset]!.offset;
    for (const e of entries) pcrs.add(e.pcr);
    chunks.push({ format: 'ima', offset, firstEvent: imaOffset, data: ima.data.subarray(offset) });
    report.push({ format: 'ima', source: ima.path ?? '(given)', bytes: ima.data.length - offset, firstEvent: imaOffset, events: entries.length - imaOffset });
  }
  return { chunks, pcrs, report, imaPath: ima?.path, imaBytes: ima?.data.length ?? 0 };
}

/** Makes tollgate evidence with the TPM (see the file comment). */
export async function createEvidence(tpm: TPM, opts: CreateEvidenceOptions): Promise<CreatedEvidence> {
  const imaOffset = opts.imaOffset ?? 0;
  if (!Number.isSafeInteger(imaOffset) || imaOffset < 0) throw new AppraiseError('EVIDENCE_INPUT_INVALID', `The IMA offset must be an entry index ≥ 0, not ${String(opts.imaOffset)}.`);
  const kernelTPM = tpm.uri.startsWith('device:');
  // The logs first: a bad one fails before the TPM does any work.
  const boot = readLog(opts.eventLog, KERNEL_BOOT_LOG, kernelTPM, 'measured-boot log');
  let ima = readLog(opts.imaLog, KERNEL_IMA_LOG, kernelTPM, 'IMA log');
  let logs = prepareLogs(boot, ima, imaOffset);
  const selection = selectionFor(opts.pcrs, logs.pcrs);
  const identity = opts.identity ?? await evidenceIdentity(tpm);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const { values } = await tpm.pcrRead(selection);
    const claims = buildClaims({
      nonce: opts.nonce, ueid: identity.ueid, iat: opts.now ?? new Date(), swname: 'tollgate',
      ...(opts.swversion !== undefined ? { swversion: opts.swversion } : {}),
      pcrs: banksOf(values), eventLogs: logs.chunks, software: opts.installed ?? [],
      ...(opts.ledgerHead ? { ledger: opts.ledgerHead } : {}), keyCertification: identity.keyCertification,
    });
    const q = await tpm.quote(AK_HANDLE, expectedQuoteExtraData(claims), selection);
    const qi = q.attest.attested as TPMSQuoteInfo;
    const hashAlg = (q.signature.signature as { hash?: number } | null)?.hash ?? TPM_ALG.SHA256;
    const pcrsMoved = !pcrDigest(hashAlg, qi.pcrSelect, values).equals(Buffer.from(qi.pcrDigest));
    // IMA appends while we quote: a log shorter than what the quote covers would not replay.
    const again = logs.imaPath !== undefined ? readLog(logs.imaPath, KERNEL_IMA_LOG, false, 'IMA log') : undefined;
    const imaMoved = again !== undefined && again.data.length !== logs.imaBytes;
    if (!pcrsMoved && !imaMoved) {
      // encodeEvidence checks the quote binds the claims (withQuote) before it signs.
      const full: EvidenceClaims = { ...claims, quote: { attest: q.attestBytes, signature: q.signatureBytes } };
      const bytes = await encodeEvidence(full, tpmCoseSigner(tpm, { kid: identity.deviceKeyName }));
      return { bytes, claims: full, identity, selection, logs: logs.report, retries: attempt };
    }
    if (imaMoved) {
      ima = again;
      logs = prepareLogs(boot, ima, imaOffset);
    }
  }
  throw new AppraiseError('EVIDENCE_LOGS_CHANGING', `The PCRs or the IMA log kept changing while they were quoted (${ATTEMPTS} tries); retry when the system is quieter.`);
}

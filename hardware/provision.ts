// Idempotent provisioning of tollgate's keys at documented persistent handles.
//
//   handle      key                                        why this handle
//   0x81000001  SRK, ECC P-256 (owner hierarchy)           TCG Provisioning Guidance: the SRK's standard handle
//   0x81010001  EK, RSA-2048 (endorsement hierarchy)       TCG Provisioning Guidance / handle registry: the RSA EK
//   0x81010002  EK, ECC P-256 (endorsement hierarchy)      ... the ECC P-256 EK
//   0x81008001  AK, ECC P-256 restricted signing (SRK child)   ours: owner range 0x81000000-0x8100FFFF, away from the
//   0x81008002  device key, ECC P-256 signing (SRK child)      0x810000xx slots other software (tpm2-tools examples,
//                                                                FAPI, systemd) allocates upward from the bottom
//
// provision() first inspects every handle and changes nothing when any holds a FOREIGN object (one
// whose public area does not match our template): it is reported, never evicted or overwritten.
// Then it creates only what is missing, so a second run changes nothing. Finally the AK certifies
// the device key (TPM2_Certify) and the certification is verified in software before it is
// returned. Creating keys is slow on real TPMs (seconds to minutes for RSA): only provisioning does
// it, never a quote or a signature.
import { randomBytes } from 'node:crypto';
import { TollgateError, type ErrorClass } from './errors.ts';
import { TPM_HT, TPM_RH, TPM_ST, hex32 } from './constants.ts';
import { isRC } from './rc.ts';
import { TPMTSignature, type TPMSAttest, type TPMSCertifyInfo, type TPMTPublic } from './types.ts';
import { type PublicKeyBytes } from './crypto/index.ts';
import { KEY_ROLE_NAMES, templateFor, templateMismatch, publicKeyOf, publicPem, type KeyRole } from './keys.ts';
import { QuoteError, parseAttest, parseSignature, verifyAttestSignature } from './quote.ts';
import { PolicySession } from './hmacsession.ts';
import type { TPM } from './tpm.ts';
import type { Authorization } from './session.ts';

export const PERSISTENT_HANDLES: Readonly<Record<KeyRole, number>> = {
  srk: 0x81000001,
  'ek-rsa': 0x81010001,
  'ek-ecc': 0x81010002,
  ak: 0x81008001,
  device: 0x81008002,
};

export const AK_HANDLE = PERSISTENT_HANDLES.ak;
export const DEVICE_KEY_HANDLE = PERSISTENT_HANDLES.device;
export const SRK_HANDLE = PERSISTENT_HANDLES.srk;

export type ProvisionErrorCode =
  | 'PROVISION_FOREIGN_OBJECT'
  | 'PROVISION_NOT_PROVISIONED'
  | 'CERTIFY_MALFORMED'
  | 'CERTIFY_SIGNATURE_INVALID'
  | 'CERTIFY_WRONG_TYPE'
  | 'CERTIFY_NAME_MISMATCH'
  | 'CERTIFY_QUALIFYING_DATA_MISMATCH';

const CLASS: Record<ProvisionErrorCode, ErrorClass> = {
  PROVISION_FOREIGN_OBJECT: 'environment',
  PROVISION_NOT_PROVISIONED: 'environment',
  CERTIFY_MALFORMED: 'denied',
  CERTIFY_SIGNATURE_INVALID: 'denied',
  CERTIFY_WRONG_TYPE: 'denied',
  CERTIFY_NAME_MISMATCH: 'denied',
  CERTIFY_QUALIFYING_DATA_MISMATCH: 'denied',
};

export class ProvisionError extends TollgateError {
  declare readonly code: ProvisionErrorCode;
  constructor(code: ProvisionErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CLASS[code], options);
    this.name = 'ProvisionError';
  }
}

// ------------------------------------------------------------------------------------------------
// Inspection

export interface HandleStatus {
  role: KeyRole;
  handle: number;
  state: 'absent' | 'ours' | 'foreign';
  /** Why a foreign object is not ours. */
  reason?: string;
  public?: TPMTPublic;
  name?: Buffer;
  qualifiedName?: Buffer;
}

const ALL_ROLES: readonly KeyRole[] = ['srk', 'ek-rsa', 'ek-ecc', 'ak', 'device'];

/** What is at each of our persistent handles, and whether it is ours. Changes nothing. */
export async function inspectHandles(tpm: TPM, roles: readonly KeyRole[] = ALL_ROLES): Promise<HandleStatus[]> {
  const persistent = new Set(await tpm.handles(TPM_HT.PERSISTENT));
  const out: HandleStatus[] = [];
  for (const role of roles) {
    const handle = PERSISTENT_HANDLES[role];
    if (!persistent.has(handle)) { out.push({ role, handle, state: 'absent' }); continue; }
    let rp: Awaited<ReturnType<TPM['readPublic']>>;
    try {
      rp = await tpm.readPublic(handle);
    } catch (e) {
      if (isRC(e, 0x08b)) { out.push({ role, handle, state: 'absent' }); continue; }
      throw e;
    }
    const why = templateMismatch(role, rp.outPublic);
    out.push({ role, handle, state: why ? 'foreign' : 'ours', ...(why ? { reason: why } : {}), public: rp.outPublic, name: rp.name, qualifiedName: rp.qualifiedName });
  }
  return out;
}

function foreignError(foreign: HandleStatus[]): ProvisionError {
  const list = foreign.map((f) => `${hex32(f.handle)} (meant for the ${KEY_ROLE_NAMES[f.role]}: ${f.reason})`).join('; ');
  return new ProvisionError('PROVISION_FOREIGN_OBJECT',
    `Another object occupies ${foreign.length === 1 ? 'a handle' : 'handles'} tollgate uses: ${list}. Nothing was changed. If that object is not needed, remove it (tpm2_evictcontrol -C o -c HANDLE) and run provisioning again; otherwise this TPM is managed by other software.`,
    { details: { handles: foreign.map((f) => ({ handle: hex32(f.handle), role: f.role, reason: f.reason, name: f.name?.toString('hex') })) } });
}

// ------------------------------------------------------------------------------------------------
// Certification of the device key by the AK

export interface Certification {
  /** The TPMS_ATTEST (type TPM_ST_ATTEST_CERTIFY) as signed. */
  attestBytes: Buffer;
  /** The marshalled TPMT_SIGNATURE. */
  signatureBytes: Buffer;
  attest: TPMSAttest;
  signature: TPMTSignature;
  qualifyingData: Buffer;
}

export interface VerifyCertificationInput {
  ak: PublicKeyBytes | TPMTPublic;
  attest: Uint8Array;
  signature: Uint8Array | TPMTSignature;
  /** The Name of the certified object (nameAlg ‖ H(public area)). */
  objectName: Uint8Array;
  qualifiedName?: Uint8Array;
  qualifyingData?: Uint8Array;
}

/**
 * Verifies a TPM2_Certify result in software: TPM-made (magic), of type ATTEST_CERTIFY, signed by
 * the AK, about the object with this Name (and qualified Name), with this qualifying data.
 */
export function verifyCertification(input: VerifyCertificationInput): TPMSAttest {
  const key = typeof (input.ak as TPMTPublic).objectAttributes === 'number' ? publicKeyOf(input.ak as TPMTPublic) : input.ak as PublicKeyBytes;
  let attest: TPMSAttest;
  try {
    attest = parseAttest(input.attest);
    const sig = input.signature instanceof Uint8Array ? parseSignature(input.signature) : input.signature;
    verifyAttestSignature(key, input.attest, sig);
  } catch (e) {
    if (e instanceof QuoteError) {
      const code = e.code === 'QUOTE_SIGNATURE_INVALID' || e.code === 'QUOTE_KEY_MISMATCH' ? 'CERTIFY_SIGNATURE_INVALID' : 'CERTIFY_MALFORMED';
      throw new ProvisionError(code, `The device key certification is not valid: ${e.message}`, { cause: e });
    }
    throw e;
  }
  if (attest.type !== TPM_ST.ATTEST_CERTIFY) throw new ProvisionError('CERTIFY_WRONG_TYPE', `The certification is of type 0x${attest.type.toString(16)}, not TPM_ST_ATTEST_CERTIFY.`);
  const info = attest.attested as TPMSCertifyInfo;
  if (!Buffer.from(info.name).equals(Buffer.from(input.objectName))) {
    throw new ProvisionError('CERTIFY_NAME_MISMATCH', 'The certification is about another object (its Name differs from the device key\'s).');
  }
  if (input.qualifiedName && !Buffer.from(info.qualifiedName).equals(Buffer.from(input.qualifiedName))) {
    throw new ProvisionError('CERTIFY_NAME_MISMATCH', 'The certification names the device key under another hierarchy (qualified Name differs).');
  }
  if (input.qualifyingData && !Buffer.from(attest.extraData).equals(Buffer.from(input.qualifyingData))) {
    throw new ProvisionError('CERTIFY_QUALIFYING_DATA_MISMATCH', 'The certification carries other qualifying data than was asked for: it is a replay.');
  }
  return attest;
}

/** TPM2_Certify of the device key by the AK, verified in software before it is returned. */
export async function certifyDeviceKey(tpm: TPM, opts: { qualifyingData?: Uint8Array; akHandle?: number; deviceHandle?: number } = {}): Promise<Certification> {
  const akHandle = opts.akHandle ?? AK_HANDLE;
  const deviceHandle = opts.deviceHandle ?? DEVICE_KEY_HANDLE;
  const qualifyingData = Buffer.from(opts.qualifyingData ?? randomBytes(32));
  const ak = await tpm.readPublic(akHandle);
  const dev = await tpm.readPublic(deviceHandle);
  const r = await tpm.certify(deviceHandle, akHandle, qualifyingData);
  verifyCertification({ ak: ak.outPublic, attest: r.attestBytes, signature: r.signatureBytes, objectName: dev.name, qualifiedName: dev.qualifiedName, qualifyingData });
  return { attestBytes: r.attestBytes, signatureBytes: r.signatureBytes, attest: r.attest, signature: r.signature, qualifyingData };
}

// ------------------------------------------------------------------------------------------------
// Provisioning

export interface ProvisionOptions {
  /** Which EKs to persist (default both low-range EKs). */
  eks?: ReadonlyArray<'rsa' | 'ecc'>;
  /** Owner hierarchy authorization (default empty). */
  ownerAuth?: Authorization;
  /** Endorsement hierarchy authorization (default empty). */
  endorsementAuth?: Authorization;
  /** Qualifying data for the device key certification (default 32 random bytes). */
  qualifyingData?: Uint8Array;
}

export interface ProvisionedKey {
  role: KeyRole;
  handle: number;
  /** True when this run created it. */
  created: boolean;
  public: TPMTPublic;
  name: Buffer;
  qualifiedName: Buffer;
}

export interface ProvisionResult {
  keys: ProvisionedKey[];
  /** True when anything was created. */
  changed: boolean;
  ak: ProvisionedKey & { pem: string };
  deviceKey: ProvisionedKey & { pem: string };
  certification: Certification;
}

function rolesFor(opts: ProvisionOptions): KeyRole[] {
  const eks = opts.eks ?? ['rsa', 'ecc'];
  return ['srk', ...(eks.includes('rsa') ? ['ek-rsa' as const] : []), ...(eks.includes('ecc') ? ['ek-ecc' as const] : []), 'ak', 'device'];
}

async function createAt(tpm: TPM, role: KeyRole, opts: ProvisionOptions): Promise<void> {
  const handle = PERSISTENT_HANDLES[role];
  const ownerAuth = opts.ownerAuth !== undefined ? { auth: opts.ownerAuth } : {};
  await tpm.withTransient(async () => {
    let transient: number;
    if (role === 'srk') {
      transient = (await tpm.createPrimary(TPM_RH.OWNER, templateFor(role), opts.ownerAuth !== undefined ? { auth: opts.ownerAuth } : {})).handle;
    } else if (role === 'ek-rsa' || role === 'ek-ecc') {
      transient = (await tpm.createPrimary(TPM_RH.ENDORSEMENT, templateFor(role), opts.endorsementAuth !== undefined ? { auth: opts.endorsementAuth } : {})).handle;
    } else {
      const c = await tpm.create(SRK_HANDLE, templateFor(role));
      transient = (await tpm.load(SRK_HANDLE, c.outPrivate, c.outPublic)).handle;
    }
    await tpm.evictControl(TPM_RH.OWNER, transient, handle, ownerAuth);
  });
}

/**
 * Makes sure SRK, EK(s), AK and device key exist at their handles (creating only what is missing),
 * then has the AK certify the device key and verifies that certification.
 * Throws ProvisionError(PROVISION_FOREIGN_OBJECT) — with nothing changed — when a handle holds an
 * object that is not ours.
 */
export async function provision(tpm: TPM, opts: ProvisionOptions = {}): Promise<ProvisionResult> {
  const roles = rolesFor(opts);
  const before = await inspectHandles(tpm, roles);
  const foreign = before.filter((s) => s.state === 'foreign');
  if (foreign.length) throw foreignError(foreign);
  const created = new Set<KeyRole>();
  for (const s of before) {
    if (s.state !== 'absent') continue;
    await createAt(tpm, s.role, opts);
    created.add(s.role);
  }
  const after = created.size ? await inspectHandles(tpm, roles) : before;
  const keys: ProvisionedKey[] = after.map((s) => {
    if (s.state !== 'ours') throw new ProvisionError('PROVISION_NOT_PROVISIONED', `The ${KEY_ROLE_NAMES[s.role]} at ${hex32(s.handle)} is ${s.state} after provisioning; the TPM did not keep it.`);
    return { role: s.role, handle: s.handle, created: created.has(s.role), public: s.public!, name: s.name!, qualifiedName: s.qualifiedName! };
  });
  const ak = keys.find((k) => k.role === 'ak')!;
  const dev = keys.find((k) => k.role === 'device')!;
  const certification = await certifyDeviceKey(tpm, opts.qualifyingData ? { qualifyingData: opts.qualifyingData } : {});
  return {
    keys, changed: created.size > 0,
    ak: { ...ak, pem: publicPem(ak.public) },
    deviceKey: { ...dev, pem: publicPem(dev.public) },
    certification,
  };
}

/** The AK's public area, or PROVISION_NOT_PROVISIONED when tollgate's AK is not (validly) there. */
export async function requireAK(tpm: TPM): Promise<{ handle: number; public: TPMTPublic; name: Buffer }> {
  const [s] = await inspectHandles(tpm, ['ak']);
  if (s!.state === 'absent') throw new ProvisionError('PROVISION_NOT_PROVISIONED', `This TPM has no tollgate AK at ${hex32(AK_HANDLE)}; run 'tollgate tpm provision' first.`);
  if (s!.state === 'foreign') throw foreignError([s!]);
  return { handle: s!.handle, public: s!.public!, name: s!.name! };
}

// ------------------------------------------------------------------------------------------------
// AK enrollment: credential activation

export interface ActivateOptions {
  /** TPM2B_ID_OBJECT body from MakeCredential (software or tpm2_makecredential). */
  credentialBlob: Uint8Array;
  /** TPM2B_ENCRYPTED_SECRET body. */
  secret: Uint8Array;
  /** Which EK the credential was made for (default the RSA EK, the one most CAs certify). */
  ek?: 'rsa' | 'ecc';
  endorsementAuth?: Authorization;
}

/**
 * TPM2_ActivateCredential for our AK: the EK is authorized by its policy (a policy session with
 * PolicySecret(TPM_RH_ENDORSEMENT)), the AK by the connection's secure session (salted to the SRK,
 * to the pinned SRK when OpenOptions.secureSession pins one), which also encrypts the recovered
 * credential on its way back (AES-128-CFB), so it never crosses the bus in clear. Returns the
 * credential; the policy session is flushed, on error too.
 */
export async function activateAKCredential(tpm: TPM, opts: ActivateOptions): Promise<Buffer> {
  const ekHandle = PERSISTENT_HANDLES[opts.ek === 'ecc' ? 'ek-ecc' : 'ek-rsa'];
  await requireAK(tpm);
  return tpm.withTransient(async () => {
    const policy = await PolicySession.start(tpm);
    await tpm.policySecret(TPM_RH.ENDORSEMENT, policy.handle, { nonceTPM: policy.nonceTPM, ...(opts.endorsementAuth !== undefined ? { auth: opts.endorsementAuth } : {}) });
    return tpm.activateCredential(AK_HANDLE, ekHandle, opts.credentialBlob, opts.secret, { keyAuth: policy, secure: true });
  });
}

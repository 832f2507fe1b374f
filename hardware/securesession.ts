// The connection's secure session: one HMAC session, salted to a TPM-resident key, unbound, with
// AES-128-CFB parameter encryption both ways (TPMA_SESSION decrypt|encrypt) and every response
// HMAC verified. TPM methods use it by default for commands that carry a secret (an authValue,
// NV data written under authorization, a credential, sealed data), so no secret crosses the bus in
// clear and neither command nor response can be altered unnoticed.
//
// The salt key. The session key must be unknown to anyone watching the bus, so the salt is
// encrypted to a key that lives in the TPM:
//   1. the SRK at 0x81000001 when it is there (persisted by provisioning): no key generation at
//      all, only TPM2_ReadPublic; its Name can be pinned (OpenOptions.secureSession.saltKeyName) so
//      that a man in the middle cannot substitute his own key;
//   2. otherwise a transient ECC P-256 primary in the NULL hierarchy made from the SRK template.
//      The NULL hierarchy needs no authorization (the owner password may be set on a provisioned
//      device; we must not need it just to protect other secrets) and its seed changes at every TPM
//      reset, so the key is good for nothing else. It is flushed as soon as the session has
//      started (a salt key is only needed by StartAuthSession), so it never holds one of the TPM's
//      few object slots (three on some discrete TPMs).
// Not the EK: it is often RSA-2048 and not persistent (creating it takes seconds to minutes on a
// discrete TPM), and it is a privacy-sensitive identifier better kept for attestation.
import { TPM_ALG, TPM_ECC, TPM_RH, TPMA_OBJECT, hex32 } from './constants.ts';
import { objectName } from './crypto/index.ts';
import { HmacSession, tpmPublicKey } from './hmacsession.ts';
import { marshal } from './marshal.ts';
import { TPMError, isRC } from './rc.ts';
import { TPMMarshalError, TPMTransportError, TPMUsageError } from './tpmerrors.ts';
import { TPMTPublic as TPMTPublicSchema, type TPMTPublic } from './types.ts';
import type { TPM } from './tpm.ts';

/** Where provisioning persists the SRK (TCG Provisioning Guidance). */
export const DEFAULT_SALT_KEY = 0x81000001;

export interface SecureSessionOptions {
  /** Persistent key to salt to. Default 0x81000001 (the SRK). */
  saltKey?: number;
  /**
   * Expected Name of that key. When set, the session is salted only to a key with exactly this
   * Name (no fallback to a transient key): TPM_SALT_KEY_MISMATCH otherwise.
   */
  saltKeyName?: Uint8Array;
  /** Where the pinned Name is kept (e.g. a state file), named in the refusal. */
  pinnedIn?: string;
  /** AES key size for parameter encryption (default 128). */
  aesBits?: 128 | 192 | 256;
}

/** The TCG SRK template (ECC P-256, restricted decrypt, AES-128-CFB, noDA, empty auth and policy). */
export function saltKeyTemplate(): TPMTPublic {
  const O = TPMA_OBJECT;
  return {
    type: TPM_ALG.ECC, nameAlg: TPM_ALG.SHA256,
    objectAttributes: O.fixedTPM | O.fixedParent | O.sensitiveDataOrigin | O.userWithAuth | O.noDA | O.restricted | O.decrypt,
    authPolicy: new Uint8Array(0),
    parameters: { symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB }, scheme: { scheme: TPM_ALG.NULL, details: null }, curveID: TPM_ECC.NIST_P256, kdf: { scheme: TPM_ALG.NULL, details: null } },
    unique: { x: new Uint8Array(32), y: new Uint8Array(32) },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function mismatch(msg: string): TPMTransportError {
  return new TPMTransportError('TPM_SALT_KEY_MISMATCH', msg);
}

function where(opts: SecureSessionOptions): string {
  return opts.pinnedIn ? ` in ${opts.pinnedIn}` : '';
}

/** A key fit to salt a session: an RSA or ECC decryption key whose public area we can use. */
function usableForSalt(pub: TPMTPublic): boolean {
  if (pub.type !== TPM_ALG.RSA && pub.type !== TPM_ALG.ECC) return false;
  if (!(pub.objectAttributes & TPMA_OBJECT.decrypt)) return false;
  try {
    tpmPublicKey(pub);
    return true;
  } catch {
    return false;
  }
}

/** The persistent salt key, or undefined when it is absent or unfit (and not pinned). */
async function persistentSaltKey(tpm: TPM, opts: SecureSessionOptions): Promise<{ handle: number; public: TPMTPublic } | undefined> {
  const handle = opts.saltKey ?? DEFAULT_SALT_KEY;
  const pinned = opts.saltKeyName;
  let rp;
  try {
    rp = await tpm.readPublic(handle);
  } catch (e) {
    if (!isRC(e, 0x08b) && !isRC(e, 0x184)) throw e;
    if (pinned) throw mismatch(`The salt key pinned${where(opts)} (${hex32(handle)}) is not in the TPM. Provision the SRK again, or remove the pinned Name if the TPM was cleared on purpose.`);
    return undefined;
  }
  // The TPM computes the Name; recomputing it from the public area it sent catches a response
  // that is internally inconsistent. Only a pinned Name defeats a key substituted in transit.
  const name = objectName(marshal(TPMTPublicSchema, rp.outPublic));
  if (!sameBytes(name, rp.name)) throw new TPMMarshalError('TPM_MALFORMED_RESPONSE', `TPM2_ReadPublic for ${hex32(handle)} returned a Name that does not match the public area it returned.`);
  if (pinned && !sameBytes(name, pinned)) {
    throw mismatch(`The key at ${hex32(handle)} is not the pinned salt key (its Name is ${Buffer.from(name).toString('hex')}; the Name pinned${where(opts)} is ${Buffer.from(pinned).toString('hex')}). The TPM was re-provisioned, or something between tollgate and the TPM substituted the key; no session was salted to it.`);
  }
  if (!usableForSalt(rp.outPublic)) {
    if (pinned) throw mismatch(`The pinned salt key ${hex32(handle)} is not an RSA or ECC decryption key.`);
    return undefined;
  }
  return { handle, public: rp.outPublic };
}

/**
 * Starts a secure session on `tpm`: salted to the SRK when present, else to a transient NULL
 * hierarchy primary that is flushed before this returns. Call it outside any withTransient scope
 * (the TPM class does) so the session outlives the scope.
 */
export async function startSecureSession(tpm: TPM, opts: SecureSessionOptions = {}): Promise<HmacSession> {
  const aesBits = opts.aesBits ?? 128;
  const persistent = await persistentSaltKey(tpm, opts);
  if (persistent) return HmacSession.start(tpm, { saltKey: persistent, aesBits });
  const primary = await tpm.createPrimary(TPM_RH.NULL, saltKeyTemplate(), { secure: false });
  try {
    return await HmacSession.start(tpm, { saltKey: { handle: primary.handle, public: primary.outPublic }, aesBits });
  } finally {
    await tpm.flushContext(primary.handle);
  }
}

/**
 * What an error from a command authorized by the secure session (as session number `index`,
 * 0-based) means for that session:
 *   'keep'   the TPM refused the command before running it; the session is intact (nonces are
 *            only rolled on success);
 *   'retry'  the session is not loaded any more (flushed behind our back, TPM reset): forget it
 *            and run the command once more with a new one: the TPM did not run it;
 *   'drop'   the response was altered or unreadable, or the link failed: the session's state is
 *            unknown, so it is flushed and a new one is made next time; no retry, since the TPM
 *            may have run the command.
 */
export function secureSessionVerdict(e: unknown, index: number): 'keep' | 'retry' | 'drop' {
  if (e instanceof TPMError) {
    if (e.rc === 0x918 + index) return 'retry'; // TPM_RC_REFERENCE_S<index>
    if (e.info.session === index + 1 && (e.info.base === 0x08b || e.info.base === 0x084)) return 'retry'; // HANDLE / VALUE on our session
    return 'keep';
  }
  // Refused by us before anything was sent.
  if (e instanceof TPMUsageError || (e instanceof TPMMarshalError && e.code === 'TPM_BAD_VALUE')) return 'keep';
  // TPMResponseAuthError, a malformed response, a failed link, anything unexpected.
  return 'drop';
}

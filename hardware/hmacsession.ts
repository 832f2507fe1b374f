// HMAC authorization sessions (Library Part 1 §19.6) on the AuthSession interface: optionally
// salted to a loaded TPM key, with AES-CFB parameter encryption of the first command and response
// TPM2B, and verification of every response HMAC. The arithmetic is hardware/crypto's; this file
// only keeps the session state (nonces, session key) in step with the TPM.
import { randomBytes } from 'node:crypto';
import { TPM_ALG, TPM_SE, TPMA_SESSION, digestSize } from './constants.ts';
import {
  sessionKey as deriveSessionKey, sessionHmacKey, commandHmac, responseHmac, checkResponseHmac, parameterKeyMaterial,
  encryptCommandParameter, decryptResponseParameter, encryptSalt, hashAlgFromId, curveFromTpmId, objectName,
  type HashAlg, type TpmPublicKey, type ParamSymmetric, type ParamSession,
} from './crypto/index.ts';
import { marshal } from './marshal.ts';
import type { AuthSession, CommandAuth, CommandAuthContext, ResponseAuthContext } from './session.ts';
import { TPMResponseAuthError, TPMUsageError } from './tpmerrors.ts';
import { TPMTPublic as TPMTPublicSchema, type TPMSAuthResponse, type TPMTPublic, type TPMSECCPoint, type TPMSECCParms, type TPMSRSAParms } from './types.ts';
import type { TPM } from './tpm.ts';

/** The public key of a loaded TPM object, in the form hardware/crypto shares secrets with. */
export function tpmPublicKey(pub: TPMTPublic): TpmPublicKey {
  const nameAlg = hashAlgFromId(pub.nameAlg);
  if (!nameAlg) throw new TPMUsageError('TPM_BAD_ARGUMENT', `Key nameAlg 0x${pub.nameAlg.toString(16)} is not supported.`);
  const parms = pub.parameters as TPMSRSAParms | TPMSECCParms;
  const sym = parms.symmetric.algorithm === TPM_ALG.AES ? { symmetric: { alg: 'aes' as const, bits: parms.symmetric.keyBits as 128 | 192 | 256 } } : {};
  if (pub.type === TPM_ALG.RSA) return { type: 'rsa', n: pub.unique as Uint8Array, e: (parms as TPMSRSAParms).exponent, nameAlg, ...sym };
  if (pub.type === TPM_ALG.ECC) {
    const curve = curveFromTpmId((parms as TPMSECCParms).curveID);
    if (!curve) throw new TPMUsageError('TPM_BAD_ARGUMENT', `ECC curve 0x${(parms as TPMSECCParms).curveID.toString(16)} is not supported.`);
    const u = pub.unique as TPMSECCPoint;
    return { type: 'ecc', curve, x: u.x, y: u.y, nameAlg, ...sym };
  }
  throw new TPMUsageError('TPM_BAD_ARGUMENT', 'Only RSA and ECC keys can salt a session.');
}

export interface HmacSessionOptions {
  /** Session hash (default SHA256). */
  authHash?: number;
  /** Salt the session to this loaded key (e.g. the SRK or EK): the session key is then secret even for an unauthorized entity. */
  saltKey?: { handle: number; public: TPMTPublic };
  /** AES key size for parameter encryption (CFB); null for none. Default 128. */
  aesBits?: 128 | 192 | 256 | null;
  /** Encrypt the first command parameter (TPMA_SESSION.decrypt). Default true when aesBits is set. */
  decrypt?: boolean;
  /** Have the TPM encrypt the first response parameter (TPMA_SESSION.encrypt). Default true when aesBits is set. */
  encrypt?: boolean;
  /** authValue of the entity the session authorizes (can be changed later with `auth`). */
  auth?: Uint8Array | string;
}

export interface PolicySessionOptions {
  authHash?: number;
  /** A trial session only computes a policy digest; it cannot authorize. */
  trial?: boolean;
  saltKey?: { handle: number; public: TPMTPublic };
  /** AES key size for parameter encryption (CFB); default none. */
  aesBits?: 128 | 192 | 256 | null;
  /** Keep the session after the command it authorizes (default true); false lets the TPM flush it. */
  continueSession?: boolean;
}

/**
 * A policy session used as an authorization (Part 1 §19.7). Run the policy commands on it first
 * (e.g. tpm.policySecret(TPM_RH.ENDORSEMENT, session.handle, { nonceTPM: session.nonceTPM })),
 * then pass it as the authorization of the entity whose authPolicy that satisfies. Set
 * `policyAuthValue` / `policyPassword` (and `auth`) when the policy used PolicyAuthValue /
 * PolicyPassword.
 */
/** What StartAuthSession gave us, plus the session key derived from it. */
interface StartedSession {
  handle: number;
  hashAlg: HashAlg;
  sessionKey: Uint8Array;
  symmetric: ParamSymmetric | null;
  nonceCaller: Uint8Array;
  nonceTPM: Uint8Array;
}

/** StartAuthSession (optionally salted to a loaded key) and the session key (§19.6.8) for both session kinds. */
async function startSession(tpm: TPM, sessionType: number, opts: { authHash?: number; saltKey?: { handle: number; public: TPMTPublic } }, bits: 128 | 192 | 256 | null): Promise<StartedSession> {
  const authHash = opts.authHash ?? TPM_ALG.SHA256;
  const hashAlg = hashAlgFromId(authHash);
  if (!hashAlg) throw new TPMUsageError('TPM_BAD_ARGUMENT', `Session hash 0x${authHash.toString(16)} is not supported.`);
  let salt: Uint8Array = new Uint8Array(0);
  let encryptedSalt: Uint8Array = new Uint8Array(0);
  if (opts.saltKey) ({ salt, encryptedSalt } = encryptSalt(tpmPublicKey(opts.saltKey.public)));
  const nonceCaller = randomBytes(digestSize(authHash)!);
  const s = await tpm.startAuthSession({
    sessionType, authHash, nonceCaller, encryptedSalt, ...(opts.saltKey ? { tpmKey: opts.saltKey.handle } : {}),
    symmetric: bits ? { algorithm: TPM_ALG.AES, keyBits: bits, mode: TPM_ALG.CFB } : { algorithm: TPM_ALG.NULL, keyBits: null, mode: null },
  });
  const sessionKey = deriveSessionKey(hashAlg, new Uint8Array(0), salt, s.nonceTPM, nonceCaller);
  return { handle: s.handle, hashAlg, sessionKey, symmetric: bits ? { alg: 'aes', bits } : null, nonceCaller, nonceTPM: s.nonceTPM };
}

/** Session state and arithmetic shared by HMAC and policy sessions: nonces, parameter encryption, HMACs. */
abstract class SessionState {
  readonly handle: number;
  readonly needsNames = true;
  protected readonly hashAlg: HashAlg;
  protected readonly sessionKey: Uint8Array;
  protected readonly symmetric: ParamSymmetric | null;
  protected readonly attrs: number;
  protected nonceCaller: Uint8Array;
  protected nonceTPMValue: Uint8Array;

  protected constructor(s: StartedSession, attrs: number) {
    this.handle = s.handle;
    this.hashAlg = s.hashAlg;
    this.sessionKey = s.sessionKey;
    this.symmetric = s.symmetric;
    this.attrs = attrs;
    this.nonceCaller = s.nonceCaller;
    this.nonceTPMValue = s.nonceTPM;
  }

  get attributes(): number {
    return this.attrs;
  }

  get nonceTPM(): Uint8Array {
    return this.nonceTPMValue;
  }

  begin(): void {
    this.nonceCaller = randomBytes(this.nonceCaller.length);
  }

  protected paramSession(authHandle: number | undefined, auth: Uint8Array): ParamSession {
    // The authValue joins the key material only when this session authorizes an entity.
    const keyMaterial = parameterKeyMaterial(this.sessionKey, authHandle !== undefined ? auth : undefined);
    return { hashAlg: this.hashAlg, keyMaterial, symmetric: this.symmetric!, nonceCaller: this.nonceCaller, nonceTPM: this.nonceTPMValue };
  }

  protected commandHmacWith(ctx: CommandAuthContext, hmacKey: Uint8Array): Uint8Array {
    return commandHmac(this.hashAlg, hmacKey, ctx.cpHash(TPM_ALG_ID[this.hashAlg]), this.nonceCaller, this.nonceTPMValue, ctx.sessionAttributes, ctx.nonceDecrypt, ctx.nonceEncrypt);
  }

  /** Takes the response's new nonceTPM, then throws TPMResponseAuthError unless its HMAC verifies. */
  protected checkResponseHmacWith(ctx: ResponseAuthContext, r: TPMSAuthResponse, hmacKey: Uint8Array): void {
    const expected = responseHmac(this.hashAlg, hmacKey, ctx.rpHash(TPM_ALG_ID[this.hashAlg]), r.nonce, this.nonceCaller, r.sessionAttributes);
    try {
      checkResponseHmac(expected, r.hmac);
    } catch (e) {
      throw new TPMResponseAuthError('The TPM response failed its HMAC check: it was altered between the TPM and tollgate. Nothing from it was used; retry, and suspect the TPM connection if it persists.', { cause: e });
    }
  }
}

const TPM_ALG_ID: Record<HashAlg, number> = { sha1: TPM_ALG.SHA1, sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384, sha512: TPM_ALG.SHA512 };

export class HmacSession extends SessionState implements AuthSession {
  /** authValue of the entity this session authorizes in the next command. */
  auth: Uint8Array;
  /** The key the session was salted to (undefined: unsalted). */
  readonly saltedTo: { handle: number; name: Buffer } | undefined;

  private constructor(s: StartedSession, attrs: number, auth: Uint8Array, saltedTo: { handle: number; name: Buffer } | undefined) {
    super(s, attrs);
    this.auth = auth;
    this.saltedTo = saltedTo;
  }

  /** Starts the session on the TPM (flush it with tpm.flushContext, or create it inside withTransient). */
  static async start(tpm: TPM, opts: HmacSessionOptions = {}): Promise<HmacSession> {
    const bits = opts.aesBits === undefined ? 128 : opts.aesBits;
    const s = await startSession(tpm, TPM_SE.HMAC, opts, bits);
    const attrs = TPMA_SESSION.continueSession
      | (bits && (opts.decrypt ?? true) ? TPMA_SESSION.decrypt : 0)
      | (bits && (opts.encrypt ?? true) ? TPMA_SESSION.encrypt : 0);
    const auth = typeof opts.auth === 'string' ? Buffer.from(opts.auth, 'utf8') : opts.auth ?? new Uint8Array(0);
    const saltedTo = opts.saltKey ? { handle: opts.saltKey.handle, name: Buffer.from(objectName(marshal(TPMTPublicSchema, opts.saltKey.public))) } : undefined;
    return new HmacSession(s, attrs, auth, saltedTo);
  }

  /**
   * This session as the authorization of one entity whose authValue is `authValue`, without
   * touching `auth`: several callers can share one session (the TPM's connection-wide secure
   * session does), each with its own secret. `attributes` overrides the TPMA_SESSION bits
   * (e.g. to drop decrypt/encrypt when another session of the command already has them);
   * continueSession always stays set. `audit` adds audit bits (audit, auditReset, auditExclusive)
   * for this one command.
   */
  authorizing(authValue: Uint8Array | string, opts: { attributes?: number; audit?: number } = {}): AuthSession {
    const auth = typeof authValue === 'string' ? Buffer.from(authValue, 'utf8') : authValue;
    const auditBits = TPMA_SESSION.audit | TPMA_SESSION.auditReset | TPMA_SESSION.auditExclusive;
    const attrs = ((((opts.attributes ?? this.attrs) | TPMA_SESSION.continueSession) & this.attrs) | ((opts.audit ?? 0) & auditBits)) >>> 0;
    const encrypts = this.symmetric !== null;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    return {
      handle: this.handle,
      needsNames: true,
      attributes: attrs,
      get nonceTPM(): Uint8Array { return self.nonceTPMValue; },
      begin: () => this.begin(),
      ...(encrypts ? {
        encryptParameter: (d: Uint8Array, authHandle: number | undefined) => this.encryptWith(d, authHandle, auth),
        decryptParameter: (d: Uint8Array, authHandle: number | undefined) => this.decryptWith(d, authHandle, auth),
      } : {}),
      commandAuth: (ctx: CommandAuthContext) => this.commandAuthWith(ctx, auth),
      verifyResponse: (ctx: ResponseAuthContext, r: TPMSAuthResponse) => this.verifyResponseWith(ctx, r, auth, attrs),
    };
  }

  private encryptWith(data: Uint8Array, authHandle: number | undefined, auth: Uint8Array): Uint8Array {
    return encryptCommandParameter(this.paramSession(authHandle, auth), data);
  }

  private decryptWith(data: Uint8Array, authHandle: number | undefined, auth: Uint8Array): Uint8Array {
    return decryptResponseParameter(this.paramSession(authHandle, auth), data);
  }

  encryptParameter(data: Uint8Array, authHandle: number | undefined): Uint8Array {
    return this.encryptWith(data, authHandle, this.auth);
  }

  private hmacKey(authHandle: number | undefined, auth: Uint8Array): Uint8Array {
    return sessionHmacKey({ sessionKey: this.sessionKey, sessionType: 'hmac', ...(authHandle !== undefined ? { authValue: auth } : {}) });
  }

  private commandAuthWith(ctx: CommandAuthContext, auth: Uint8Array): CommandAuth {
    const hmac = this.commandHmacWith(ctx, this.hmacKey(ctx.authHandle, auth));
    return { nonce: this.nonceCaller, sessionAttributes: ctx.sessionAttributes, hmac };
  }

  commandAuth(ctx: CommandAuthContext): CommandAuth {
    return this.commandAuthWith(ctx, this.auth);
  }

  private verifyResponseWith(ctx: ResponseAuthContext, r: TPMSAuthResponse, auth: Uint8Array, attrs: number): void {
    // The TPM has moved to the new nonce whether or not the response survived the trip.
    this.nonceTPMValue = r.nonce;
    this.checkResponseHmacWith(ctx, r, this.hmacKey(ctx.authHandle, auth));
    if ((r.sessionAttributes & TPMA_SESSION.continueSession) !== (attrs & TPMA_SESSION.continueSession)) {
      throw new TPMResponseAuthError('The TPM response changed the session\'s continueSession attribute.');
    }
  }

  verifyResponse(ctx: ResponseAuthContext, r: TPMSAuthResponse): void {
    this.verifyResponseWith(ctx, r, this.auth, this.attrs);
  }

  decryptParameter(data: Uint8Array, authHandle: number | undefined): Uint8Array {
    return this.decryptWith(data, authHandle, this.auth);
  }
}

/**
 * A policy session used as an authorization (Part 1 §19.7). Run the policy commands on it first
 * (e.g. tpm.policySecret(TPM_RH.ENDORSEMENT, session.handle, { nonceTPM: session.nonceTPM })),
 * then pass it as the authorization of the entity whose authPolicy that satisfies. Set
 * `policyAuthValue` / `policyPassword` (and `auth`) when the policy used PolicyAuthValue /
 * PolicyPassword.
 */
export class PolicySession extends SessionState implements AuthSession {
  auth: Uint8Array = new Uint8Array(0);
  policyAuthValue = false;
  policyPassword = false;

  private constructor(s: StartedSession, attrs: number) {
    super(s, attrs);
  }

  static async start(tpm: TPM, opts: PolicySessionOptions = {}): Promise<PolicySession> {
    const bits = opts.aesBits ?? null;
    const s = await startSession(tpm, opts.trial ? TPM_SE.TRIAL : TPM_SE.POLICY, opts, bits);
    const attrs = (opts.continueSession === false ? 0 : TPMA_SESSION.continueSession) | (bits ? TPMA_SESSION.decrypt | TPMA_SESSION.encrypt : 0);
    return new PolicySession(s, attrs);
  }

  private hmacKey(authHandle: number | undefined): Uint8Array {
    return sessionHmacKey({ sessionKey: this.sessionKey, sessionType: 'policy', policyAuthValue: this.policyAuthValue, ...(authHandle !== undefined ? { authValue: this.auth } : {}) });
  }

  encryptParameter(data: Uint8Array, authHandle: number | undefined): Uint8Array {
    return encryptCommandParameter(this.paramSession(authHandle, this.auth), data);
  }

  decryptParameter(data: Uint8Array, authHandle: number | undefined): Uint8Array {
    return decryptResponseParameter(this.paramSession(authHandle, this.auth), data);
  }

  commandAuth(ctx: CommandAuthContext): CommandAuth {
    // After PolicyPassword the authValue travels in clear, as with a password session.
    const hmac = this.policyPassword ? this.auth : this.commandHmacWith(ctx, this.hmacKey(ctx.authHandle));
    return { nonce: this.nonceCaller, sessionAttributes: ctx.sessionAttributes, hmac };
  }

  verifyResponse(ctx: ResponseAuthContext, r: TPMSAuthResponse): void {
    this.nonceTPMValue = r.nonce;
    if (this.policyPassword) {
      if (r.hmac.length !== 0) throw new TPMResponseAuthError('The TPM answered a PolicyPassword session with an HMAC; the response was altered or the TPM is faulty.');
      return;
    }
    this.checkResponseHmacWith(ctx, r, this.hmacKey(ctx.authHandle));
  }
}

// Authorization sessions as the execute path sees them. For every command the execute path:
//   1. calls begin() on each session (fresh caller nonce; also on every retry),
//   2. reads `attributes` and clears decrypt/encrypt where the command has no TPM2B first
//      parameter / response parameter; a session left with TPMA_SESSION.decrypt encrypts the first
//      command parameter (encryptParameter, given the TPM2B's data bytes),
//   3. computes names/cpHash inputs and calls commandAuth() for each session, in order,
//   4. after a successful response, calls verifyResponse() with the rpHash inputs (before any
//      decryption), then a session with TPMA_SESSION.encrypt decrypts the first response TPM2B.
// HMAC and policy sessions (built on hardware/crypto) implement this same interface.
import { TPM_RS_PW, TPMA_SESSION, HASH_INFO } from './constants.ts';
import { TPMResponseAuthError, TPMUsageError } from './tpmerrors.ts';
import type { TPMSAuthResponse } from './types.ts';

export interface CommandAuthContext {
  commandCode: number;
  /** Every handle in the command's handle area, in order. */
  handles: readonly number[];
  /** Names of those handles; filled only when some session in the command has needsNames. */
  names: readonly Uint8Array[];
  /** The marshalled parameter area as sent (after parameter encryption). */
  parameters: Uint8Array;
  /** cpHash = H(commandCode ‖ names ‖ parameters) under the given TPM hash algorithm. */
  cpHash(hashAlg: number): Buffer;
  /** 0-based position of this session in the authorization area. */
  index: number;
  /** The handle this session authorizes, or undefined for an encrypt/audit-only session. */
  authHandle: number | undefined;
  /**
   * The attributes to send: the session's `attributes` with decrypt/encrypt cleared where this
   * command has no TPM2B to encrypt. The returned CommandAuth must carry exactly these.
   */
  sessionAttributes: number;
  /** For the first session only: nonceTPM of the decrypt / encrypt session when that is another session. */
  nonceDecrypt?: Uint8Array;
  nonceEncrypt?: Uint8Array;
}

export interface ResponseAuthContext {
  commandCode: number;
  /** The response parameter area as received (before decryption). */
  parameters: Uint8Array;
  /** rpHash = H(responseCode(0) ‖ commandCode ‖ parameters). */
  rpHash(hashAlg: number): Buffer;
  index: number;
  authHandle: number | undefined;
}

/** The command-side authorization of one session (TPMS_AUTH_COMMAND without the handle). */
export interface CommandAuth {
  nonce: Uint8Array;
  sessionAttributes: number;
  hmac: Uint8Array;
}

export interface AuthSession {
  /** TPM_RS_PW or the session handle from StartAuthSession. */
  readonly handle: number;
  /** True when commandAuth needs handle names / cpHash (HMAC and policy sessions). */
  readonly needsNames: boolean;
  /** TPMA_SESSION bits for the coming command (read after begin()). */
  readonly attributes: number;
  /** The session's current nonceTPM (for nonceDecrypt/nonceEncrypt of another session). */
  readonly nonceTPM?: Uint8Array;
  begin?(): void;
  /**
   * Encrypts the data bytes of the first command parameter (same length out). authHandle is the
   * handle this session authorizes in this command (its authValue joins the key), if any.
   */
  encryptParameter?(data: Uint8Array, authHandle: number | undefined): Uint8Array;
  commandAuth(ctx: CommandAuthContext): CommandAuth | Promise<CommandAuth>;
  /** Checks the response authorization; throws TPMResponseAuthError when it does not verify. */
  verifyResponse(ctx: ResponseAuthContext, auth: TPMSAuthResponse): void | Promise<void>;
  /** Decrypts the data bytes of the first response parameter (same length out); called after verifyResponse. */
  decryptParameter?(data: Uint8Array, authHandle: number | undefined): Uint8Array;
}

/** Password authorization (TPM_RS_PW): the authValue travels in clear in the hmac field. */
export class PasswordSession implements AuthSession {
  readonly handle = TPM_RS_PW;
  readonly needsNames = false;
  readonly attributes = TPMA_SESSION.continueSession;
  private readonly auth: Uint8Array;

  constructor(auth: Uint8Array | string = new Uint8Array(0)) {
    this.auth = typeof auth === 'string' ? Buffer.from(auth, 'utf8') : auth;
  }

  commandAuth(ctx: CommandAuthContext): CommandAuth {
    return { nonce: new Uint8Array(0), sessionAttributes: ctx.sessionAttributes, hmac: this.auth };
  }

  verifyResponse(_ctx: ResponseAuthContext, r: TPMSAuthResponse): void {
    // The TPM answers a password session with an empty nonce and an empty hmac; anything else means
    // the response was altered or the TPM is confused.
    if (r.nonce.length !== 0 || r.hmac.length !== 0) {
      throw new TPMResponseAuthError('The TPM answered a password authorization with a non-empty nonce or HMAC; the response was altered or the TPM is faulty.');
    }
  }
}

/** What TPM methods accept as an authorization: a password (string/bytes) or a session. */
export type Authorization = string | Uint8Array | AuthSession;

export function toSession(a: Authorization | undefined): AuthSession {
  if (a === undefined) return new PasswordSession();
  if (typeof a === 'string' || a instanceof Uint8Array) return new PasswordSession(a);
  return a;
}

/** Node hash name for a TPM hash algorithm; throws for ones Node cannot compute. */
export function nodeHashName(hashAlg: number): string {
  const h = HASH_INFO[hashAlg];
  if (!h) throw new TPMUsageError('TPM_BAD_ARGUMENT', `Hash algorithm 0x${hashAlg.toString(16)} is not supported here; use SHA256.`);
  return h.name;
}

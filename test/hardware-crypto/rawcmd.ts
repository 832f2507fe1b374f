// Test-only: hand-framed TPM commands with one session, built from hardware/crypto's session
// functions, so a real TPM (swtpm) judges our sessionKey, cpHash, HMACs and parameter encryption.
import { randomBytes } from 'node:crypto';
import {
  ByteReader, checkResponseHmac, commandHmac, concat, cpHash, decryptResponseParameter, encryptCommandParameter,
  parameterKeyMaterial, responseHmac, rpHash, sessionHmacKey, sessionKey, tpm2b, u16, u32, type HashAlg, type ParamSymmetric,
} from '../../hardware/crypto/index.ts';
import type { RawTpm } from './toolstpm.ts';

export const TPM_RH_NULL = 0x40000007;
export const CC = { StartAuthSession: 0x176, PCR_Extend: 0x182, Hash: 0x17d, FlushContext: 0x165, NV_Write: 0x137, NV_Read: 0x14e } as const;

export class TpmRcError extends Error {
  readonly rc: number;
  constructor(rc: number, what: string) { super(`${what} failed with TPM rc 0x${rc.toString(16)}`); this.rc = rc; }
}

function header(tag: number, cc: number, body: Uint8Array): Uint8Array {
  return concat(u16(tag), u32(10 + body.length), u32(cc), body);
}

async function noSessions(tpm: RawTpm, cc: number, handles: number[], params: Uint8Array, what: string): Promise<ByteReader> {
  const rsp = await tpm.send(header(0x8001, cc, concat(...handles.map(u32), params)));
  const rd = new ByteReader(rsp, what);
  rd.u16('tag'); rd.u32('size');
  const rc = rd.u32('rc');
  if (rc !== 0) throw new TpmRcError(rc, what);
  return rd;
}

export interface HmacSession {
  handle: number;
  hashAlg: HashAlg;
  sessionKey: Uint8Array;
  nonceTPM: Uint8Array;
  symmetric: ParamSymmetric;
}

/** TPM2_StartAuthSession(HMAC), salted with encryptedSalt for tpmKey and optionally bound. */
export async function startHmacSession(tpm: RawTpm, o: { tpmKey: number; encryptedSalt: Uint8Array; salt: Uint8Array; bind?: number; bindAuth?: Uint8Array; hashAlg: HashAlg }): Promise<HmacSession> {
  const nonceCaller = new Uint8Array(randomBytes(32));
  const params = concat(tpm2b(nonceCaller), tpm2b(o.encryptedSalt), new Uint8Array([0x00]), u16(0x0006), u16(128), u16(0x0043), u16(0x000b));
  const rd = await noSessions(tpm, CC.StartAuthSession, [o.tpmKey, o.bind ?? TPM_RH_NULL], params, 'StartAuthSession');
  const handle = rd.u32('sessionHandle');
  const nonceTPM = rd.tpm2b('nonceTPM', 64);
  rd.end();
  return { handle, hashAlg: o.hashAlg, nonceTPM, symmetric: { alg: 'aes', bits: 128 },
    sessionKey: sessionKey(o.hashAlg, o.bindAuth ?? new Uint8Array(0), o.salt, nonceTPM, nonceCaller) };
}

export async function flush(tpm: RawTpm, handle: number): Promise<void> {
  (await noSessions(tpm, CC.FlushContext, [], u32(handle), 'FlushContext')).end();
}

export interface SessionUse {
  /** Names of the command's handles (for cpHash). */
  names: Uint8Array[];
  /** authValue of the entity the session authorizes; undefined when it authorizes none. */
  authValue?: Uint8Array;
  boundToEntity?: boolean;
  attrs: number;
  /** First parameter is a TPM2B to be encrypted (attrs must carry decrypt). */
  firstParam?: Uint8Array;
  restParams: Uint8Array;
  /** The response's first parameter is a TPM2B to be decrypted (attrs must carry encrypt). */
  encryptedResponse?: boolean;
  /** Flips one bit of the response before checking it (simulates tampering in transit). */
  tamper?: (rsp: Uint8Array) => void;
}

export interface SessionResult {
  /** Response parameter area as received. */
  rpBuffer: Uint8Array;
  /** First response TPM2B, decrypted when encryptedResponse was set. */
  firstParamPlain?: Uint8Array;
}

/** Runs one command with the session, verifies the response HMAC (throws TpmCryptoError on mismatch), advances the nonce. */
export async function runWithSession(tpm: RawTpm, s: HmacSession, cc: number, handles: number[], u: SessionUse): Promise<SessionResult> {
  const nonceCaller = new Uint8Array(randomBytes(32));
  const keyMat = parameterKeyMaterial(s.sessionKey, u.authValue);
  const enc = { hashAlg: s.hashAlg, keyMaterial: keyMat, symmetric: s.symmetric, nonceCaller, nonceTPM: s.nonceTPM };
  const first = u.firstParam === undefined ? new Uint8Array(0) : tpm2b(u.attrs & 0x20 ? encryptCommandParameter(enc, u.firstParam) : u.firstParam);
  const cpBuffer = concat(first, u.restParams);
  const key = sessionHmacKey({ sessionKey: s.sessionKey, ...(u.authValue ? { authValue: u.authValue } : {}), sessionType: 'hmac', boundToEntity: u.boundToEntity ?? false });
  const mac = commandHmac(s.hashAlg, key, cpHash(s.hashAlg, cc, u.names, cpBuffer), nonceCaller, s.nonceTPM, u.attrs);
  const auth = concat(u32(s.handle), tpm2b(nonceCaller), new Uint8Array([u.attrs]), tpm2b(mac));
  const rsp = await tpm.send(header(0x8002, cc, concat(...handles.map(u32), u32(auth.length), auth, cpBuffer)));
  u.tamper?.(rsp);
  const rd = new ByteReader(rsp, 'response');
  rd.u16('tag'); rd.u32('size');
  const rc = rd.u32('rc');
  if (rc !== 0) throw new TpmRcError(rc, `command 0x${cc.toString(16)}`);
  const paramSize = rd.u32('parameterSize');
  const rpBuffer = rd.bytes(paramSize, 'parameters');
  const nonceTPM = rd.tpm2b('nonceTPM', 64);
  const rAttrs = rd.bytes(1, 'attrs')[0]!;
  const rMac = rd.tpm2b('hmac', 64);
  rd.end();
  checkResponseHmac(responseHmac(s.hashAlg, key, rpHash(s.hashAlg, cc, rpBuffer), nonceTPM, nonceCaller, rAttrs), rMac);
  s.nonceTPM = nonceTPM;
  let firstParamPlain: Uint8Array | undefined;
  if (u.encryptedResponse) {
    const prd = new ByteReader(rpBuffer, 'rpBuffer');
    firstParamPlain = decryptResponseParameter({ ...enc, nonceTPM }, prd.tpm2b('first', 4096));
  }
  return { rpBuffer, ...(firstParamPlain ? { firstParamPlain } : {}) };
}

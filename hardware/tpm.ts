// The TPM: one connection, one typed method per command, all running through the one execute path
// (command.ts). Bring-up, Name lookups for sessions, property caching, chunked NV I/O, and
// automatic flushing of transient handles (withTransient, close) live here.
//
// Authorization policy. A method's authorization may be a password (string / bytes), a session
// (AuthSession), or omitted (empty password). Explicit sessions are always used as given. Passwords
// and omitted authorizations go through the connection's secure session (securesession.ts: salted,
// AES-CFB both ways, response HMAC verified) when the command carries a secret: a non-empty
// password (it would otherwise cross the bus in clear), NV writes/increments/locks/extends and
// NV_DefineSpace (command integrity: nobody can change what is written or fake the answer),
// ActivateCredential and Unseal (the answer is a secret), Create/CreatePrimary with sensitive data,
// and NV reads that ask for it (`secure: true`). `secure: false` (or an explicit PasswordSession)
// opts out. Everything else (quote, sign, PCR read, reads with an empty password) stays on the
// cheap password path: no session set-up on the hot path.
import { randomBytes } from 'node:crypto';
import {
  TPM_ALG, TPM_CAP, TPM_HT, TPM_PT, TPM_RH, TPM_SE, TPM_ST, TPM_SU, TPMA_NV, TPMA_SESSION, TPM_GENERATED_VALUE, TPM_RC,
  handleType, hex32, digestSize,
} from './constants.ts';
import { Executor, type CommandDef, type ExecuteRequest, type ExecuteResult, type RetryPolicy } from './command.ts';
import * as C from './commands.ts';
import { HandleTracker, TransientScope, handleBytes, nameIsHandle } from './handles.ts';
import { marshal, unmarshal, malformedError, type StructS } from './marshal.ts';
import { TPMError, isRC } from './rc.ts';
import { type Authorization, type AuthSession } from './session.ts';
import { HmacSession } from './hmacsession.ts';
import { startSecureSession, secureSessionVerdict, type SecureSessionOptions } from './securesession.ts';
import { TPMUsageError } from './tpmerrors.ts';
import { openTransport, parseTPMURI, resolveTPMURI, type Transport, type TPMURI, type TransportOptions } from './transport/index.ts';
import {
  TPMSAttest, TPMTSignature, pcrSelection, selectedPCRs,
  type TPMLPCRSelection, type TPMSPCRSelection, type TPMTPublic, type TPMSNVPublic, type TPMSTimeInfo, type TPMSCapabilityData,
  type TPMSAlgProperty, type TPMTSigScheme, type TPMTTKHashcheck, type TPMTTKCreation, type TPMTTKVerified, type TPMTTKAuth,
  type TPMSCreationData, type TPMSContext, type TPMTHA, type TPMTSensitive, type TPMTSymDef, type TPMLDigestValues,
} from './types.ts';

export interface OpenOptions extends TransportOptions {
  /** Environment for TOLLGATE_TPM when no URI is given (default process.env). */
  env?: Record<string, string | undefined>;
  /** Bring the TPM up (INIT on TPM_RC_FAILURE for swtpm, Startup(CLEAR) on TPM_RC_INITIALIZE). Default true. */
  startup?: boolean;
  retry?: RetryPolicy;
  /** Wraps the transport, e.g. to inject faults in tests. */
  wrapTransport?: (t: Transport) => Transport;
  /** Which key salts the connection's secure session, and optionally its pinned Name. */
  secureSession?: SecureSessionOptions;
  /**
   * Flush transient objects and sessions left loaded when we connect. Default: true for swtpm,
   * false otherwise. swtpm has no resource manager and serves one client at a time, so whatever is
   * loaded when we connect belongs to a client that is gone (a killed process); left alone, three
   * such orphans exhaust its session slots (TPM_RC_SESSION_MEMORY). /dev/tpmrm0's kernel resource
   * manager already does this when a process exits. TOLLGATE_TPM_RECLAIM=0 turns the default off
   * (the suite-wide leak check needs to see what each test file left behind).
   */
  reclaimOrphans?: boolean;
}

/** A PCR bank selection in plain form: {hash: TPM_ALG.SHA256, pcrs: [0, 7]}. */
export interface PCRBankSelection {
  hash: number;
  pcrs: readonly number[];
}

export interface PCRValue {
  hash: number;
  pcr: number;
  digest: Buffer;
}

export interface AttestResult {
  /** The marshalled TPMS_ATTEST exactly as signed. */
  attestBytes: Buffer;
  attest: TPMSAttest;
  signature: TPMTSignature;
  /** The marshalled TPMT_SIGNATURE (what tpm2-tools writes as a "tss" signature file). */
  signatureBytes: Buffer;
}

export interface CreateOptions {
  /** The new object's authValue and, for sealed data / imported keys, its sensitive data. */
  sensitive?: { userAuth?: Uint8Array | string; data?: Uint8Array };
  outsideInfo?: Uint8Array;
  creationPCR?: TPMLPCRSelection;
  /** Authorization for the hierarchy / parent. */
  auth?: Authorization;
  /** Use the secure session for a password `auth` (default: when sensitive data or a non-empty password is given). */
  secure?: boolean;
}

export interface CreatePrimaryResult {
  handle: number;
  outPublic: TPMTPublic;
  name: Buffer;
  creationData: TPMSCreationData;
  creationHash: Buffer;
  creationTicket: TPMTTKCreation;
}

export interface NVDefine {
  nvIndex: number;
  dataSize: number;
  attributes: number;
  nameAlg?: number;
  authPolicy?: Uint8Array;
}

export interface NVAuthOptions {
  /** The authorizing entity: the index itself, TPM_RH.OWNER or TPM_RH.PLATFORM. Default from the index attributes. */
  authHandle?: number;
  authorization?: Authorization;
  /**
   * Run a password authorization through the connection's secure session. Default: always for
   * writes, increments, locks and extends; for reads and undefine only with a non-empty password.
   * Ignored when `authorization` is a session.
   */
  secure?: boolean;
  /**
   * Also use the secure session as an audit session (Part 1 §17.2): 'reset' makes it the TPM's
   * exclusive audit session; 'exclusive' makes the TPM refuse the command (TPM_RC_EXCLUSIVE) when
   * any other command that takes sessions ran since, on any connection. A 'reset' read followed by
   * an 'exclusive' write is a compare-and-write no other TPM client can get between.
   */
  audit?: 'reset' | 'exclusive';
}

const AUDIT_BITS = { reset: TPMA_SESSION.audit | TPMA_SESSION.auditReset, exclusive: TPMA_SESSION.audit | TPMA_SESSION.auditExclusive } as const;

export interface StartAuthSessionOptions {
  sessionType: number;
  authHash?: number;
  tpmKey?: number;
  bind?: number;
  nonceCaller?: Uint8Array;
  encryptedSalt?: Uint8Array;
  symmetric?: TPMTSymDef;
}

const NULL_SCHEME: TPMTSigScheme = { scheme: TPM_ALG.NULL, details: null };
const NULL_HASHCHECK: TPMTTKHashcheck = { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: new Uint8Array(0) };
const EMPTY = new Uint8Array(0);

function bytes(v: Uint8Array | string | undefined): Uint8Array {
  if (v === undefined) return EMPTY;
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/** Create/CreatePrimary carry a secret when the new object gets an authValue or sensitive data. */
function hasSensitive(opts: CreateOptions): boolean {
  return bytes(opts.sensitive?.userAuth).length > 0 || (opts.sensitive?.data?.length ?? 0) > 0;
}

function isPassword(a: Authorization | undefined): a is string | Uint8Array {
  return typeof a === 'string' || a instanceof Uint8Array;
}

function usage(msg: string): TPMUsageError {
  return new TPMUsageError('TPM_BAD_ARGUMENT', msg);
}

function toSelection(sel: TPMLPCRSelection | readonly PCRBankSelection[]): TPMLPCRSelection {
  if (sel.length === 0) return [];
  const first = sel[0] as unknown as Record<string, unknown>;
  return 'pcrs' in first ? pcrSelection(sel as readonly PCRBankSelection[]) : (sel as TPMLPCRSelection);
}

/** Decodes a TPMS_ATTEST the TPM produced (magic must be TPM_GENERATED_VALUE). */
export function decodeAttest(b: Uint8Array): TPMSAttest {
  const a = unmarshal(TPMSAttest, b);
  if (a.magic !== TPM_GENERATED_VALUE) throw malformedError(`TPMS_ATTEST magic is ${hex32(a.magic)}, not TPM_GENERATED_VALUE`);
  return a;
}

export class TPM {
  readonly uri: string;
  readonly transport: Transport;
  private readonly exec: Executor;
  private readonly tracker = new HandleTracker();
  private readonly fixedProps = new Map<number, number>();
  private closed = false;
  private readonly secureOpts: SecureSessionOptions;
  private secure: HmacSession | undefined;
  private secureStarting: Promise<HmacSession> | undefined;

  private constructor(transport: Transport, opts: OpenOptions) {
    this.transport = transport;
    this.uri = transport.uri;
    this.secureOpts = opts.secureSession ?? {};
    this.exec = new Executor(transport, this.tracker, { ...(opts.retry ? { retry: opts.retry } : {}), ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
    this.exec.nameReader = (h) => this.readName(h);
  }

  /**
   * Opens the TPM named by `uri` (or by TOLLGATE_TPM, or /dev/tpmrm0) and brings it up.
   * Throws TPMUsageError(TPM_URI_INVALID), TPMTransportError (TPM_NOT_FOUND, TPM_CONNECT_FAILED, ...) or TPMError.
   */
  static async open(uri?: string | TPMURI, opts: OpenOptions = {}): Promise<TPM> {
    const u = uri === undefined ? resolveTPMURI(undefined, opts.env) : typeof uri === 'string' ? parseTPMURI(uri) : uri;
    const raw = await openTransport(u, opts);
    return TPM.fromTransport(opts.wrapTransport ? opts.wrapTransport(raw) : raw, opts);
  }

  /** A TPM over an already open transport; brings it up unless opts.startup is false. */
  static async fromTransport(transport: Transport, opts: OpenOptions = {}): Promise<TPM> {
    const tpm = new TPM(transport, opts);
    if (opts.startup !== false) {
      try {
        await tpm.bringUp();
        if (opts.reclaimOrphans ?? (transport.uri.startsWith('swtpm:') && (opts.env ?? process.env)['TOLLGATE_TPM_RECLAIM'] !== '0')) await tpm.reclaimOrphans();
      } catch (e) {
        await transport.close().catch(() => undefined);
        throw e;
      }
    }
    return tpm;
  }

  /**
   * Safe bring-up: probe with a harmless command; on TPM_RC_FAILURE power the simulator on (INIT),
   * on TPM_RC_INITIALIZE run Startup(CLEAR). Returns the steps taken.
   */
  async bringUp(): Promise<Array<'init' | 'startup'>> {
    const steps: Array<'init' | 'startup'> = [];
    for (;;) {
      try {
        await this.exec.execute(C.GetRandom, { params: { bytesRequested: 1 } });
        return steps;
      } catch (e) {
        if (isRC(e, TPM_RC.FAILURE) && this.transport.powerOn && !steps.includes('init')) {
          await this.transport.powerOn();
          steps.push('init');
          continue;
        }
        if (isRC(e, TPM_RC.INITIALIZE) && !steps.includes('startup')) {
          await this.startup(TPM_SU.CLEAR);
          steps.push('startup');
          continue;
        }
        throw e;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Generic execution and handle lifetime

  /** Runs any command definition through the execute path. */
  execute<P extends StructS<any>, R extends StructS<any>>(def: CommandDef<P, R>, req: ExecuteRequest<P>): Promise<ExecuteResult<R>> {
    if (this.closed) return Promise.reject(new TPMUsageError('TPM_CLOSED', 'The TPM connection is closed; open it again.'));
    return this.exec.execute(def, req);
  }

  /** Sends pre-marshalled command bytes, serialized with other commands (benchmark floor, diagnostics). */
  sendRaw(command: Uint8Array): Promise<Buffer> {
    return this.exec.exclusive(() => this.transport.send(command));
  }

  /** Flushes every transient object and session the TPM holds (see OpenOptions.reclaimOrphans). */
  async reclaimOrphans(): Promise<number[]> {
    const orphans = [...await this.handles(TPM_HT.TRANSIENT), ...await this.handles(TPM_HT.LOADED_SESSION), ...await this.handles(TPM_HT.SAVED_SESSION)];
    for (const h of new Set(orphans)) {
      await this.exec.execute(C.FlushContext, { params: { flushHandle: h } }).catch(() => undefined);
    }
    return orphans;
  }

  /** Transient objects, sequences and sessions created on this connection and not yet flushed. */
  liveHandles(): number[] {
    return [...this.tracker.live.keys()];
  }

  /**
   * Runs fn; every transient object, sequence or session created inside it (and not handed on with
   * scope.keep) is flushed afterwards, whether fn succeeds or throws.
   */
  async withTransient<T>(fn: (scope: TransientScope) => Promise<T>): Promise<T> {
    const scope = new TransientScope(this.tracker.scopes.getStore());
    let result: T;
    try {
      result = await this.tracker.scopes.run(scope, () => fn(scope));
    } catch (e) {
      await this.flushHandles([...scope.handles]).catch(() => undefined);
      scope.handles.clear();
      throw e;
    }
    const hs = [...scope.handles];
    scope.handles.clear();
    await this.flushHandles(hs);
    return result;
  }

  /** Flushes every transient entity this connection created and still tracks. */
  async flushAll(): Promise<void> {
    await this.flushHandles(this.liveHandles());
  }

  private async flushHandles(hs: number[]): Promise<void> {
    let first: unknown;
    for (const h of hs.reverse()) {
      if (!this.tracker.live.has(h)) continue;
      try {
        await this.flushContext(h);
      } catch (e) {
        // Already gone (e.g. the TPM auto-flushed it): forget it; anything else is reported.
        if (e instanceof TPMError && (e.info.base === 0x08b || (e.rc & 0xff0) === 0x910)) this.tracker.gone(h);
        else first ??= e;
      }
    }
    if (first !== undefined) throw first;
  }

  /** Flushes what this connection created (the secure session too, unless flush is false) and closes the transport. */
  async close(opts: { flush?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    await this.secureStarting?.catch(() => undefined);
    if (opts.flush !== false) await this.flushAll().catch(() => undefined);
    this.secure = undefined;
    this.closed = true;
    await this.transport.close();
  }

  // ---------------------------------------------------------------------------------------------
  // The secure session (see the header comment and securesession.ts)

  /**
   * The connection's secure session: salted (to the SRK at 0x81000001 when present, else to a
   * transient NULL-hierarchy primary flushed right away), unbound, AES-CFB decrypt+encrypt,
   * continueSession. Started on first use, kept for the connection, started again when it is gone
   * (flushed, TPM reset, or dropped after a response that failed its checks); flushed by close().
   * Use it for an entity with `session.authorizing(authValue)`.
   */
  secureSession(): Promise<HmacSession> {
    if (this.closed) return Promise.reject(new TPMUsageError('TPM_CLOSED', 'The TPM connection is closed; open it again.'));
    const s = this.secure;
    if (s && this.tracker.live.has(s.handle)) return Promise.resolve(s);
    this.secure = undefined;
    // Outside any withTransient scope: the session belongs to the connection, not to the block.
    this.secureStarting ??= this.tracker.scopes.exit(() => startSecureSession(this, this.secureOpts))
      .then((n) => { this.secure = n; return n; })
      .finally(() => { this.secureStarting = undefined; });
    return this.secureStarting;
  }

  /** Handle of the secure session while this connection holds one (it is one of liveHandles()). */
  get secureSessionHandle(): number | undefined {
    const s = this.secure;
    return s && this.tracker.live.has(s.handle) ? s.handle : undefined;
  }

  private async dropSecure(s: HmacSession, flush: boolean): Promise<void> {
    if (this.secure === s) this.secure = undefined;
    if (!this.tracker.live.has(s.handle)) return;
    if (flush && !this.closed) await this.flushContext(s.handle).catch(() => this.tracker.gone(s.handle));
    else this.tracker.gone(s.handle);
  }

  /** Whether authorization `a` goes through the secure session (see the header comment). */
  private wantsSecure(a: Authorization | undefined, secure: boolean | undefined, always: boolean): boolean {
    if (a !== undefined && !isPassword(a)) return false; // an explicit session
    if (secure !== undefined) return secure;
    return always || bytes(a).length > 0;
  }

  /**
   * Runs a command whose authorization number `slot` (a password or nothing) is given to the
   * secure session when wantsSecure says so; otherwise runs it as it is.
   */
  private async authed<P extends StructS<any>, R extends StructS<any>>(def: CommandDef<P, R>, req: ExecuteRequest<P>, o: { slot?: number; always?: boolean; secure?: boolean | undefined; audit?: 'reset' | 'exclusive' | undefined } = {}): Promise<ExecuteResult<R>> {
    const slot = o.slot ?? 0;
    const given = req.auth ?? [];
    const a = given[slot];
    if (o.audit !== undefined && ((a !== undefined && !isPassword(a)) || o.secure === false)) {
      throw usage(`${def.name}: audit runs on the secure session; it cannot be combined with an explicit session or secure: false.`);
    }
    const audit = o.audit === undefined ? 0 : AUDIT_BITS[o.audit];
    if (!audit && !this.wantsSecure(a, o.secure, o.always ?? false)) return this.execute(def, req);
    // Only one session of a command may encrypt each way; an explicit session that does keeps it.
    let taken = 0;
    given.forEach((x, i) => { if (i !== slot && x !== undefined && !isPassword(x)) taken |= x.attributes; });
    taken &= TPMA_SESSION.decrypt | TPMA_SESSION.encrypt;
    for (let attempt = 0; ; attempt++) {
      const s = await this.secureSession();
      const auth = [...given];
      while (auth.length <= slot) auth.push(undefined);
      auth[slot] = s.authorizing(bytes(a as string | Uint8Array | undefined), { attributes: s.attributes & ~taken, audit });
      try {
        return await this.execute(def, { ...req, auth });
      } catch (e) {
        const v = secureSessionVerdict(e, slot);
        if (v === 'keep') throw e;
        await this.dropSecure(s, v === 'drop');
        if (v === 'retry' && attempt === 0) continue;
        throw e;
      }
    }
  }

  private async readName(h: number): Promise<Uint8Array> {
    if (nameIsHandle(h)) return handleBytes(h);
    const t = handleType(h);
    // Sequence objects have no nameAlg and so an empty Name.
    if (t === TPM_HT.TRANSIENT && this.tracker.kind(h) === 'sequence') return EMPTY;
    if (t === TPM_HT.TRANSIENT || t === TPM_HT.PERSISTENT) return (await this.exec.run(C.ReadPublic, { handles: [h], params: {} })).params.name;
    if (t === TPM_HT.NV_INDEX) return (await this.exec.run(C.NV_ReadPublic, { handles: [h], params: {} })).params.nvName;
    return handleBytes(h);
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up, capabilities, randomness, clock

  /** TPM2_Startup; resolves false when the TPM was already started (TPM_RC_INITIALIZE). */
  async startup(type: number = TPM_SU.CLEAR): Promise<boolean> {
    try {
      await this.execute(C.Startup, { params: { startupType: type } });
      return true;
    } catch (e) {
      if (isRC(e, TPM_RC.INITIALIZE)) return false;
      throw e;
    }
  }

  async shutdown(type: number = TPM_SU.CLEAR): Promise<void> {
    await this.execute(C.Shutdown, { params: { shutdownType: type } });
  }

  async getCapability(capability: number, property: number, propertyCount: number): Promise<{ moreData: boolean; capabilityData: TPMSCapabilityData }> {
    const r = await this.execute(C.GetCapability, { params: { capability, property, propertyCount } });
    if (r.params.capabilityData.capability !== capability) throw malformedError(`GetCapability answered capability ${r.params.capabilityData.capability} to a request for ${capability}`);
    return { moreData: r.params.moreData === 1, capabilityData: r.params.capabilityData };
  }

  /**
   * Pages through a capability whose entries are ordered by a numeric key: asks from `start`,
   * continues after the last key while the TPM says moreData, keeps keys up to `end`.
   */
  private async paged<T>(cap: number, start: number, key: (t: T) => number, end = 0xffffffff, nextOf: (last: number) => number = (l) => l + 1): Promise<T[]> {
    const out: T[] = [];
    let next = start;
    for (let guard = 0; guard < 4096; guard++) {
      const r = await this.getCapability(cap, next, 256);
      const items = r.capabilityData.data as unknown as T[];
      for (const it of items) if (key(it) <= end) out.push(it);
      if (!r.moreData || items.length === 0) return out;
      const last = key(items[items.length - 1]!);
      const n = nextOf(last);
      if (last >= end || n <= next) return out;
      next = n;
    }
    return out;
  }

  /**
   * All handles of one type (TPM_HT.TRANSIENT, PERSISTENT, NV_INDEX, PCR, PERMANENT). For
   * TPM_HT.LOADED_SESSION / SAVED_SESSION the TPM lists loaded / saved sessions of both kinds (HMAC
   * 0x02…, policy 0x03…), so those lists are not filtered by type.
   */
  async handles(ht: number): Promise<number[]> {
    const start = (ht << 24) >>> 0;
    if (ht === TPM_HT.LOADED_SESSION || ht === TPM_HT.SAVED_SESSION) {
      const idx = (h: number) => h & 0x00ffffff;
      return this.paged<number>(TPM_CAP.HANDLES, start, idx, 0x00ffffff, (last) => (start | (last + 1)) >>> 0);
    }
    const end = (start | 0x00ffffff) >>> 0;
    return this.paged<number>(TPM_CAP.HANDLES, start, (h) => h, end);
  }

  /** All TPM properties (the fixed 0x1xx and variable 0x2xx groups), property → value. */
  async properties(): Promise<Map<number, number>> {
    const m = new Map<number, number>();
    for (const group of [0x100, 0x200]) {
      const list = await this.paged<{ property: number; value: number }>(TPM_CAP.TPM_PROPERTIES, group, (p) => p.property, group + 0xff);
      for (const p of list) m.set(p.property, p.value);
    }
    return m;
  }

  /** One TPM property; fixed properties (0x1xx) are cached per connection. */
  async property(pt: number): Promise<number | undefined> {
    const c = this.fixedProps.get(pt);
    if (c !== undefined) return c;
    const r = await this.getCapability(TPM_CAP.TPM_PROPERTIES, pt, 1);
    const p = (r.capabilityData.data as Array<{ property: number; value: number }>).find((x) => x.property === pt);
    if (p && pt < 0x200) this.fixedProps.set(pt, p.value);
    return p?.value;
  }

  /** The allocated PCR banks and which PCRs each has. */
  async pcrBanks(): Promise<TPMSPCRSelection[]> {
    const r = await this.getCapability(TPM_CAP.PCRS, 0, 1);
    return r.capabilityData.data as TPMSPCRSelection[];
  }

  async algorithms(): Promise<TPMSAlgProperty[]> {
    return this.paged<TPMSAlgProperty>(TPM_CAP.ALGS, 0, (a) => a.alg, 0xffff);
  }

  /** Implemented command codes. */
  async commands(): Promise<number[]> {
    const l = await this.paged<number>(TPM_CAP.COMMANDS, 0x11f, (c) => c & 0xffff, 0xffff);
    return l.map((c) => c & 0xffff);
  }

  async eccCurves(): Promise<number[]> {
    return this.paged<number>(TPM_CAP.ECC_CURVES, 0, (c) => c, 0xffff);
  }

  /** Manufacturer, vendor string, firmware version and spec level, from the fixed properties. */
  async info(): Promise<{ manufacturer: string; vendorString: string; firmwareVersion: string; family: string; level: number; revision: number; year: number; dayOfYear: number; properties: Map<number, number> }> {
    const p = await this.properties();
    const str = (...pts: number[]): string => pts.map((pt) => {
      const v = p.get(pt) ?? 0;
      return String.fromCharCode((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    }).join('').replace(/[\0\s]+$/g, '').replace(/\0/g, '');
    const f1 = p.get(TPM_PT.FIRMWARE_VERSION_1) ?? 0;
    const f2 = p.get(TPM_PT.FIRMWARE_VERSION_2) ?? 0;
    return {
      manufacturer: str(TPM_PT.MANUFACTURER),
      vendorString: str(TPM_PT.VENDOR_STRING_1, TPM_PT.VENDOR_STRING_2, TPM_PT.VENDOR_STRING_3, TPM_PT.VENDOR_STRING_4),
      firmwareVersion: `${f1 >>> 16}.${f1 & 0xffff}.${f2 >>> 16}.${f2 & 0xffff}`,
      family: str(TPM_PT.FAMILY_INDICATOR),
      level: p.get(TPM_PT.LEVEL) ?? 0,
      revision: (p.get(TPM_PT.REVISION) ?? 0) / 100,
      year: p.get(TPM_PT.YEAR) ?? 0,
      dayOfYear: p.get(TPM_PT.DAY_OF_YEAR) ?? 0,
      properties: p,
    };
  }

  /** n random bytes from the TPM (several GetRandom calls when n exceeds one answer). */
  async getRandom(n: number): Promise<Buffer> {
    if (!Number.isInteger(n) || n < 0 || n > 1 << 20) throw usage(`getRandom: ${n} is not a byte count between 0 and 1 MiB.`);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const r = await this.execute(C.GetRandom, { params: { bytesRequested: Math.min(n - got, 64) } });
      const b = Buffer.from(r.params.randomBytes);
      if (b.length === 0) throw malformedError('GetRandom returned no bytes');
      const take = b.subarray(0, n - got);
      parts.push(take);
      got += take.length;
    }
    return Buffer.concat(parts, n);
  }

  async stirRandom(data: Uint8Array): Promise<void> {
    await this.execute(C.StirRandom, { params: { inData: data } });
  }

  /** TPM2_ReadClock: {time, clockInfo: {clock, resetCount, restartCount, safe}}; time and clock are ms (bigint). */
  async readClock(): Promise<TPMSTimeInfo> {
    return (await this.execute(C.ReadClock, { params: {} })).params.currentTime;
  }

  // ---------------------------------------------------------------------------------------------
  // PCRs

  /** One TPM2_PCR_Read (the TPM returns at most 8 digests; see pcrRead for the full loop). */
  async pcrReadRaw(selection: TPMLPCRSelection | readonly PCRBankSelection[]): Promise<{ pcrUpdateCounter: number; pcrSelectionOut: TPMLPCRSelection; pcrValues: Buffer[] }> {
    const r = await this.execute(C.PCR_Read, { params: { pcrSelectionIn: toSelection(selection) } });
    return { pcrUpdateCounter: r.params.pcrUpdateCounter, pcrSelectionOut: r.params.pcrSelectionOut, pcrValues: r.params.pcrValues.map((d) => Buffer.from(d)) };
  }

  /**
   * Reads every selected PCR, looping over TPM2_PCR_Read; restarts if the PCRs change in between
   * (pcrUpdateCounter), so all values are from one moment. Values come back in bank, then PCR order.
   */
  async pcrRead(selection: TPMLPCRSelection | readonly PCRBankSelection[]): Promise<{ updateCounter: number; values: PCRValue[] }> {
    const want = toSelection(selection).map((s) => ({ hash: s.hash, pcrs: selectedPCRs(s) }));
    for (let restart = 0; restart < 8; restart++) {
      const values: PCRValue[] = [];
      const pending = want.map((w) => ({ hash: w.hash, pcrs: new Set(w.pcrs) }));
      let counter: number | undefined;
      let changed = false;
      while (pending.some((p) => p.pcrs.size > 0)) {
        const ask = pending.filter((p) => p.pcrs.size > 0).map((p) => ({ hash: p.hash, pcrs: [...p.pcrs] }));
        const r = await this.pcrReadRaw(ask);
        if (counter !== undefined && r.pcrUpdateCounter !== counter) { changed = true; break; }
        counter = r.pcrUpdateCounter;
        let i = 0;
        let progressed = false;
        for (const sel of r.pcrSelectionOut) {
          const p = pending.find((x) => x.hash === sel.hash);
          for (const pcr of selectedPCRs(sel)) {
            const d = r.pcrValues[i++];
            if (!d) throw malformedError('PCR_Read returned fewer digests than its selection names');
            if (!p || !p.pcrs.has(pcr)) throw malformedError(`PCR_Read returned PCR ${pcr} of bank 0x${sel.hash.toString(16)}, which was not asked for`);
            const size = digestSize(sel.hash);
            if (size !== undefined && d.length !== size) throw malformedError(`PCR_Read returned a ${d.length}-byte digest for a ${size}-byte bank`);
            values.push({ hash: sel.hash, pcr, digest: d });
            p.pcrs.delete(pcr);
            progressed = true;
          }
        }
        if (i !== r.pcrValues.length) throw malformedError('PCR_Read returned more digests than its selection names');
        if (!progressed) {
          const missing = pending.filter((p) => p.pcrs.size > 0).map((p) => `${p.hash === TPM_ALG.SHA1 ? 'sha1' : p.hash === TPM_ALG.SHA256 ? 'sha256' : `0x${p.hash.toString(16)}`}:${[...p.pcrs].join(',')}`);
          throw usage(`These PCRs are not available on this TPM (bank not allocated or PCR out of range): ${missing.join(' ')}.`);
        }
      }
      if (changed) continue;
      const order = (v: PCRValue) => want.findIndex((w) => w.hash === v.hash) * 1024 + v.pcr;
      values.sort((a, b) => order(a) - order(b));
      return { updateCounter: counter ?? 0, values };
    }
    throw new TPMUsageError('TPM_PCR_UNSTABLE', 'The PCRs kept changing while they were being read; retry when the system is quieter.');
  }

  /** TPM2_PCR_Extend with one digest per bank ({hashAlg, digest}). */
  async pcrExtend(pcr: number, digests: TPMLDigestValues | readonly TPMTHA[], opts: { auth?: Authorization } = {}): Promise<void> {
    if (!Number.isInteger(pcr) || pcr < 0 || pcr > 0xffffff) throw usage(`PCR index ${pcr} is not valid.`);
    await this.authed(C.PCR_Extend, { handles: [pcr], params: { digests: [...digests] }, auth: [opts.auth] });
  }

  /** TPM2_PCR_Event: the TPM hashes eventData into every bank and returns the digests. */
  async pcrEvent(pcr: number, eventData: Uint8Array, opts: { auth?: Authorization } = {}): Promise<TPMLDigestValues> {
    return (await this.authed(C.PCR_Event, { handles: [pcr], params: { eventData }, auth: [opts.auth] })).params.digests;
  }

  async pcrReset(pcr: number, opts: { auth?: Authorization } = {}): Promise<void> {
    await this.authed(C.PCR_Reset, { handles: [pcr], params: {}, auth: [opts.auth] });
  }

  // ---------------------------------------------------------------------------------------------
  // NV

  private checkNV(nvIndex: number): void {
    if (!Number.isInteger(nvIndex) || handleType(nvIndex) !== TPM_HT.NV_INDEX) throw usage(`${hex32(nvIndex)} is not an NV index handle (0x01xxxxxx).`);
  }

  /**
   * TPM2_NV_DefineSpace. opts.auth is the new index's authValue; authorization is for the
   * owner/platform hierarchy. Runs through the secure session by default: the new authValue travels
   * encrypted and the index's attributes cannot be changed in transit.
   */
  async nvDefineSpace(pub: NVDefine, opts: { auth?: Uint8Array | string; authHandle?: number; authorization?: Authorization; secure?: boolean } = {}): Promise<void> {
    this.checkNV(pub.nvIndex);
    await this.authed(C.NV_DefineSpace, {
      handles: [opts.authHandle ?? TPM_RH.OWNER],
      params: { auth: bytes(opts.auth), publicInfo: { nvIndex: pub.nvIndex, nameAlg: pub.nameAlg ?? TPM_ALG.SHA256, attributes: pub.attributes, authPolicy: pub.authPolicy ?? EMPTY, dataSize: pub.dataSize } },
      auth: [opts.authorization],
    }, { always: true, secure: opts.secure });
  }

  async nvUndefineSpace(nvIndex: number, opts: NVAuthOptions = {}): Promise<void> {
    this.checkNV(nvIndex);
    await this.authed(C.NV_UndefineSpace, { handles: [opts.authHandle ?? TPM_RH.OWNER, nvIndex], params: {}, auth: [opts.authorization] }, { secure: opts.secure });
  }

  async nvReadPublic(nvIndex: number): Promise<{ nvPublic: TPMSNVPublic; nvName: Buffer }> {
    this.checkNV(nvIndex);
    const r = await this.execute(C.NV_ReadPublic, { handles: [nvIndex], params: {} });
    if (r.params.nvPublic.nvIndex !== nvIndex) throw malformedError(`NV_ReadPublic for ${hex32(nvIndex)} described ${hex32(r.params.nvPublic.nvIndex)}`);
    return { nvPublic: r.params.nvPublic, nvName: Buffer.from(r.params.nvName) };
  }

  private nvAuthHandle(pub: TPMSNVPublic, write: boolean): number {
    const a = pub.attributes;
    if (write) {
      if (a & TPMA_NV.AUTHWRITE || a & TPMA_NV.POLICYWRITE) return pub.nvIndex;
      if (a & TPMA_NV.OWNERWRITE) return TPM_RH.OWNER;
      if (a & TPMA_NV.PPWRITE) return TPM_RH.PLATFORM;
    } else {
      if (a & TPMA_NV.AUTHREAD || a & TPMA_NV.POLICYREAD) return pub.nvIndex;
      if (a & TPMA_NV.OWNERREAD) return TPM_RH.OWNER;
      if (a & TPMA_NV.PPREAD) return TPM_RH.PLATFORM;
    }
    return pub.nvIndex;
  }

  private async nvChunk(): Promise<number> {
    const m = await this.property(TPM_PT.NV_BUFFER_MAX);
    return Math.max(1, Math.min(m ?? 512, 2048));
  }

  /**
   * Reads an NV index (whole index by default), in chunks of TPM_PT_NV_BUFFER_MAX. With a
   * non-empty password or `secure: true` the data comes back encrypted and its integrity checked.
   */
  async nvRead(nvIndex: number, opts: NVAuthOptions & { size?: number; offset?: number } = {}): Promise<Buffer> {
    const { nvPublic } = await this.nvReadPublic(nvIndex);
    const offset = opts.offset ?? 0;
    const size = opts.size ?? nvPublic.dataSize - offset;
    if (!Number.isInteger(offset) || !Number.isInteger(size) || offset < 0 || size < 0 || offset + size > nvPublic.dataSize) {
      throw usage(`NV read of ${size} bytes at offset ${offset} is outside index ${hex32(nvIndex)} (${nvPublic.dataSize} bytes).`);
    }
    const authHandle = opts.authHandle ?? this.nvAuthHandle(nvPublic, false);
    const chunk = await this.nvChunk();
    const parts: Buffer[] = [];
    for (let done = 0; done < size;) {
      const n = Math.min(chunk, size - done);
      const r = await this.authed(C.NV_Read, { handles: [authHandle, nvIndex], params: { size: n, offset: offset + done }, auth: [opts.authorization] }, { secure: opts.secure, audit: opts.audit });
      if (r.params.data.length !== n) throw malformedError(`NV_Read returned ${r.params.data.length} bytes for a ${n}-byte request`);
      parts.push(Buffer.from(r.params.data));
      done += n;
    }
    return Buffer.concat(parts, size);
  }

  /** Writes data at offset, in chunks of TPM_PT_NV_BUFFER_MAX; through the secure session unless `secure: false` or an explicit session. */
  async nvWrite(nvIndex: number, data: Uint8Array, opts: NVAuthOptions & { offset?: number } = {}): Promise<void> {
    this.checkNV(nvIndex);
    const offset = opts.offset ?? 0;
    let authHandle = opts.authHandle;
    if (authHandle === undefined) authHandle = this.nvAuthHandle((await this.nvReadPublic(nvIndex)).nvPublic, true);
    const chunk = await this.nvChunk();
    if (data.length === 0) {
      await this.authed(C.NV_Write, { handles: [authHandle, nvIndex], params: { data, offset }, auth: [opts.authorization] }, { always: true, secure: opts.secure });
      return;
    }
    for (let done = 0; done < data.length;) {
      const n = Math.min(chunk, data.length - done);
      await this.authed(C.NV_Write, { handles: [authHandle, nvIndex], params: { data: data.subarray(done, done + n), offset: offset + done }, auth: [opts.authorization] }, { always: true, secure: opts.secure });
      done += n;
    }
  }

  private async nvSimple(def: typeof C.NV_WriteLock | typeof C.NV_Increment | typeof C.NV_ReadLock, nvIndex: number, write: boolean, opts: NVAuthOptions): Promise<void> {
    this.checkNV(nvIndex);
    const authHandle = opts.authHandle ?? this.nvAuthHandle((await this.nvReadPublic(nvIndex)).nvPublic, write);
    // An increment may set TPMA_NV_WRITTEN and so change the index's Name, which is then read again
    // (NV_ReadPublic). Not so after an audited read or increment: the counter was written already.
    // Keeping the Name then matters: the NV_ReadPublic would end the audit session's exclusivity.
    const name = def === C.NV_Increment && opts.audit ? this.tracker.cachedName(nvIndex) : undefined;
    // Writes (lock, increment) always: the HMACs stop a fake "done" for a counter or lock.
    await this.authed(def, { handles: [authHandle, nvIndex], params: {}, auth: [opts.authorization] }, { always: write, secure: opts.secure, audit: opts.audit });
    if (name) this.tracker.setName(nvIndex, name);
  }

  /** TPM2_NV_WriteLock: no more writes until the index attributes allow (WRITEDEFINE: forever; WRITE_STCLEAR: until restart). */
  nvWriteLock(nvIndex: number, opts: NVAuthOptions = {}): Promise<void> {
    return this.nvSimple(C.NV_WriteLock, nvIndex, true, opts);
  }

  nvReadLock(nvIndex: number, opts: NVAuthOptions = {}): Promise<void> {
    return this.nvSimple(C.NV_ReadLock, nvIndex, false, opts);
  }

  /** TPM2_NV_Increment on a counter index (TPM_NT.COUNTER). */
  nvIncrement(nvIndex: number, opts: NVAuthOptions = {}): Promise<void> {
    return this.nvSimple(C.NV_Increment, nvIndex, true, opts);
  }

  /** Reads a counter index as a bigint. */
  async nvReadCounter(nvIndex: number, opts: NVAuthOptions = {}): Promise<bigint> {
    const b = await this.nvRead(nvIndex, { ...opts, size: 8, offset: 0 });
    return b.readBigUInt64BE(0);
  }

  async nvExtend(nvIndex: number, data: Uint8Array, opts: NVAuthOptions = {}): Promise<void> {
    this.checkNV(nvIndex);
    const authHandle = opts.authHandle ?? this.nvAuthHandle((await this.nvReadPublic(nvIndex)).nvPublic, true);
    await this.authed(C.NV_Extend, { handles: [authHandle, nvIndex], params: { data }, auth: [opts.authorization] }, { always: true, secure: opts.secure });
  }

  /**
   * TPM2_NV_Certify: signHandle (e.g. the AK) signs `size` bytes at `offset` of the index (default:
   * the whole index) with its Name, in a TPMS_ATTEST of type TPM_ST_ATTEST_NV. The index is read
   * with `authorization` for `authHandle` (default from its attributes); a non-empty password for it
   * goes through the secure session. Verify the result with verifyNVCertify (nvcertify.ts).
   */
  async nvCertify(signHandle: number, nvIndex: number, qualifyingData: Uint8Array, opts: NVAuthOptions & { size?: number; offset?: number; scheme?: TPMTSigScheme; signAuth?: Authorization } = {}): Promise<AttestResult> {
    const { nvPublic } = await this.nvReadPublic(nvIndex);
    const offset = opts.offset ?? 0;
    const size = opts.size ?? nvPublic.dataSize - offset;
    if (!Number.isInteger(offset) || !Number.isInteger(size) || offset < 0 || size < 0 || offset + size > nvPublic.dataSize) {
      throw usage(`NV certify of ${size} bytes at offset ${offset} is outside index ${hex32(nvIndex)} (${nvPublic.dataSize} bytes).`);
    }
    const authHandle = opts.authHandle ?? this.nvAuthHandle(nvPublic, false);
    const slot = isPassword(opts.authorization) && bytes(opts.authorization).length > 0 ? 1 : 0;
    const r = await this.authed(C.NV_Certify, {
      handles: [signHandle, authHandle, nvIndex],
      params: { qualifyingData, inScheme: opts.scheme ?? NULL_SCHEME, size, offset },
      auth: [opts.signAuth, opts.authorization],
    }, { slot, secure: opts.secure });
    return this.attestResult(r.params.certifyInfo, r.params.signature);
  }

  // ---------------------------------------------------------------------------------------------
  // Objects

  private createParams(template: TPMTPublic, opts: CreateOptions) {
    return {
      inSensitive: { userAuth: bytes(opts.sensitive?.userAuth), data: opts.sensitive?.data ?? EMPTY },
      inPublic: template,
      outsideInfo: opts.outsideInfo ?? EMPTY,
      creationPCR: opts.creationPCR ?? [],
    };
  }

  /** TPM2_CreatePrimary under a hierarchy (TPM_RH.OWNER / ENDORSEMENT / PLATFORM / NULL). The handle is transient: flush it or use withTransient. */
  async createPrimary(hierarchy: number, template: TPMTPublic, opts: CreateOptions = {}): Promise<CreatePrimaryResult> {
    const r = await this.authed(C.CreatePrimary, { handles: [hierarchy], params: this.createParams(template, opts), auth: [opts.auth] }, { always: hasSensitive(opts), secure: opts.secure });
    return { handle: r.handle!, outPublic: r.params.outPublic, name: Buffer.from(r.params.name), creationData: r.params.creationData, creationHash: Buffer.from(r.params.creationHash), creationTicket: r.params.creationTicket };
  }

  /** TPM2_Create: a new object under a loaded parent; load it with load(). */
  async create(parent: number, template: TPMTPublic, opts: CreateOptions = {}): Promise<{ outPrivate: Buffer; outPublic: TPMTPublic; creationData: TPMSCreationData; creationHash: Buffer; creationTicket: TPMTTKCreation }> {
    const r = await this.authed(C.Create, { handles: [parent], params: this.createParams(template, opts), auth: [opts.auth] }, { always: hasSensitive(opts), secure: opts.secure });
    return { outPrivate: Buffer.from(r.params.outPrivate), outPublic: r.params.outPublic, creationData: r.params.creationData, creationHash: Buffer.from(r.params.creationHash), creationTicket: r.params.creationTicket };
  }

  async load(parent: number, inPrivate: Uint8Array, inPublic: TPMTPublic, opts: { auth?: Authorization } = {}): Promise<{ handle: number; name: Buffer }> {
    const r = await this.authed(C.Load, { handles: [parent], params: { inPrivate, inPublic }, auth: [opts.auth] });
    return { handle: r.handle!, name: Buffer.from(r.params.name) };
  }

  /** TPM2_LoadExternal; a public-only key by default, in the NULL hierarchy. */
  async loadExternal(inPublic: TPMTPublic, opts: { sensitive?: TPMTSensitive | null; hierarchy?: number } = {}): Promise<{ handle: number; name: Buffer }> {
    const r = await this.execute(C.LoadExternal, { params: { inPrivate: opts.sensitive ?? null, inPublic, hierarchy: opts.hierarchy ?? TPM_RH.NULL } });
    return { handle: r.handle!, name: Buffer.from(r.params.name) };
  }

  async readPublic(handle: number): Promise<{ outPublic: TPMTPublic; name: Buffer; qualifiedName: Buffer }> {
    const r = await this.execute(C.ReadPublic, { handles: [handle], params: {} });
    return { outPublic: r.params.outPublic, name: Buffer.from(r.params.name), qualifiedName: Buffer.from(r.params.qualifiedName) };
  }

  /**
   * TPM2_EvictControl: with a transient objectHandle, persists it at persistentHandle; with a
   * persistent objectHandle (== persistentHandle), removes it. authHandle: TPM_RH.OWNER or PLATFORM.
   */
  async evictControl(authHandle: number, objectHandle: number, persistentHandle: number, opts: { auth?: Authorization } = {}): Promise<void> {
    await this.authed(C.EvictControl, { handles: [authHandle, objectHandle], params: { persistentHandle }, auth: [opts.auth] });
  }

  async flushContext(handle: number): Promise<void> {
    await this.execute(C.FlushContext, { params: { flushHandle: handle } });
  }

  async contextSave(handle: number): Promise<TPMSContext> {
    return (await this.execute(C.ContextSave, { handles: [handle], params: {} })).params.context;
  }

  async contextLoad(context: TPMSContext): Promise<number> {
    return (await this.execute(C.ContextLoad, { params: { context } })).handle!;
  }

  /** TPM2_Unseal; the sealed data comes back encrypted through the secure session unless `secure: false` or an explicit session. */
  async unseal(handle: number, opts: { auth?: Authorization; secure?: boolean } = {}): Promise<Buffer> {
    return Buffer.from((await this.authed(C.Unseal, { handles: [handle], params: {}, auth: [opts.auth] }, { always: true, secure: opts.secure })).params.outData);
  }

  // ---------------------------------------------------------------------------------------------
  // Sessions and policy

  /** TPM2_StartAuthSession (raw). Unsalted and unbound unless tpmKey/bind are given. */
  async startAuthSession(o: StartAuthSessionOptions): Promise<{ handle: number; nonceTPM: Buffer; nonceCaller: Buffer }> {
    const authHash = o.authHash ?? TPM_ALG.SHA256;
    const nonceCaller = Buffer.from(o.nonceCaller ?? randomBytes(digestSize(authHash) ?? 32));
    const r = await this.execute(C.StartAuthSession, {
      handles: [o.tpmKey ?? TPM_RH.NULL, o.bind ?? TPM_RH.NULL],
      params: { nonceCaller, encryptedSalt: o.encryptedSalt ?? EMPTY, sessionType: o.sessionType, symmetric: o.symmetric ?? { algorithm: TPM_ALG.NULL, keyBits: null, mode: null }, authHash },
    });
    return { handle: r.handle!, nonceTPM: Buffer.from(r.params.nonceTPM), nonceCaller };
  }

  /** Starts a policy (or trial, with trial: true) session; flush it or use withTransient. */
  async startPolicySession(opts: { trial?: boolean; authHash?: number } = {}): Promise<{ handle: number; nonceTPM: Buffer; nonceCaller: Buffer }> {
    return this.startAuthSession({ sessionType: opts.trial ? TPM_SE.TRIAL : TPM_SE.POLICY, authHash: opts.authHash ?? TPM_ALG.SHA256 });
  }

  async policySecret(authHandle: number, policySession: number, opts: { auth?: Authorization; nonceTPM?: Uint8Array; cpHashA?: Uint8Array; policyRef?: Uint8Array; expiration?: number } = {}): Promise<{ timeout: Buffer; policyTicket: TPMTTKAuth }> {
    const r = await this.authed(C.PolicySecret, {
      handles: [authHandle, policySession],
      params: { nonceTPM: opts.nonceTPM ?? EMPTY, cpHashA: opts.cpHashA ?? EMPTY, policyRef: opts.policyRef ?? EMPTY, expiration: opts.expiration ?? 0 },
      auth: [opts.auth],
    });
    return { timeout: Buffer.from(r.params.timeout), policyTicket: r.params.policyTicket };
  }

  async policyOR(policySession: number, digests: readonly Uint8Array[]): Promise<void> {
    await this.execute(C.PolicyOR, { handles: [policySession], params: { pHashList: [...digests] } });
  }

  async policyCommandCode(policySession: number, code: number): Promise<void> {
    await this.execute(C.PolicyCommandCode, { handles: [policySession], params: { code } });
  }

  async policyPCR(policySession: number, pcrs: TPMLPCRSelection | readonly PCRBankSelection[], pcrDigest: Uint8Array = EMPTY): Promise<void> {
    await this.execute(C.PolicyPCR, { handles: [policySession], params: { pcrDigest, pcrs: toSelection(pcrs) } });
  }

  async policyAuthValue(policySession: number): Promise<void> {
    await this.execute(C.PolicyAuthValue, { handles: [policySession], params: {} });
  }

  async policyPassword(policySession: number): Promise<void> {
    await this.execute(C.PolicyPassword, { handles: [policySession], params: {} });
  }

  async policyRestart(policySession: number): Promise<void> {
    await this.execute(C.PolicyRestart, { handles: [policySession], params: {} });
  }

  async policyGetDigest(policySession: number): Promise<Buffer> {
    return Buffer.from((await this.execute(C.PolicyGetDigest, { handles: [policySession], params: {} })).params.policyDigest);
  }

  // ---------------------------------------------------------------------------------------------
  // Credentials, attestation, signing

  /** TPM2_MakeCredential done by the TPM (needs only the public key loaded; the verifier normally does this in software). */
  async makeCredential(handle: number, credential: Uint8Array, objectName: Uint8Array): Promise<{ credentialBlob: Buffer; secret: Buffer }> {
    const r = await this.execute(C.MakeCredential, { handles: [handle], params: { credential, objectName } });
    return { credentialBlob: Buffer.from(r.params.credentialBlob), secret: Buffer.from(r.params.secret) };
  }

  /**
   * TPM2_ActivateCredential: activateHandle is the key the credential was made for (AK), keyHandle
   * the decrypting key (EK, authorized by its policy session in keyAuth). The AK side goes through
   * the secure session unless activateAuth is a session (or `secure: false`), so the recovered
   * credential comes back encrypted and HMAC-checked.
   */
  async activateCredential(activateHandle: number, keyHandle: number, credentialBlob: Uint8Array, secret: Uint8Array, opts: { activateAuth?: Authorization; keyAuth?: Authorization; secure?: boolean } = {}): Promise<Buffer> {
    const r = await this.authed(C.ActivateCredential, { handles: [activateHandle, keyHandle], params: { credentialBlob, secret }, auth: [opts.activateAuth, opts.keyAuth] }, { always: true, secure: opts.secure });
    return Buffer.from(r.params.certInfo);
  }

  private attestResult(attestBytes: Uint8Array, signature: TPMTSignature): AttestResult {
    return { attestBytes: Buffer.from(attestBytes), attest: decodeAttest(attestBytes), signature, signatureBytes: marshal(TPMTSignature, signature) };
  }

  /** TPM2_Quote over the selected PCRs, with qualifyingData (the nonce). */
  async quote(signHandle: number, qualifyingData: Uint8Array, pcrs: TPMLPCRSelection | readonly PCRBankSelection[], opts: { scheme?: TPMTSigScheme; auth?: Authorization } = {}): Promise<AttestResult> {
    const r = await this.authed(C.Quote, { handles: [signHandle], params: { qualifyingData, inScheme: opts.scheme ?? NULL_SCHEME, PCRselect: toSelection(pcrs) }, auth: [opts.auth] });
    return this.attestResult(r.params.quoted, r.params.signature);
  }

  /** TPM2_Certify: signHandle (e.g. the AK) certifies that objectHandle is loaded in this TPM. */
  async certify(objectHandle: number, signHandle: number, qualifyingData: Uint8Array, opts: { scheme?: TPMTSigScheme; objectAuth?: Authorization; signAuth?: Authorization } = {}): Promise<AttestResult> {
    // A non-empty password goes through the secure session (one per command: the object's first).
    const slot = isPassword(opts.objectAuth) && bytes(opts.objectAuth).length > 0 ? 0 : 1;
    const r = await this.authed(C.Certify, { handles: [objectHandle, signHandle], params: { qualifyingData, inScheme: opts.scheme ?? NULL_SCHEME }, auth: [opts.objectAuth, opts.signAuth] }, { slot });
    return this.attestResult(r.params.certifyInfo, r.params.signature);
  }

  async certifyCreation(signHandle: number, objectHandle: number, qualifyingData: Uint8Array, creationHash: Uint8Array, creationTicket: TPMTTKCreation, opts: { scheme?: TPMTSigScheme; auth?: Authorization } = {}): Promise<AttestResult> {
    const r = await this.authed(C.CertifyCreation, { handles: [signHandle, objectHandle], params: { qualifyingData, creationHash, inScheme: opts.scheme ?? NULL_SCHEME, creationTicket }, auth: [opts.auth] });
    return this.attestResult(r.params.certifyInfo, r.params.signature);
  }

  /** TPM2_GetTime: a signed TPMS_TIME_ATTEST_INFO (privacy admin = endorsement hierarchy). */
  async getTime(signHandle: number, qualifyingData: Uint8Array, opts: { scheme?: TPMTSigScheme; privacyAuth?: Authorization; signAuth?: Authorization } = {}): Promise<AttestResult> {
    const slot = isPassword(opts.privacyAuth) && bytes(opts.privacyAuth).length > 0 ? 0 : 1;
    const r = await this.authed(C.GetTime, { handles: [TPM_RH.ENDORSEMENT, signHandle], params: { qualifyingData, inScheme: opts.scheme ?? NULL_SCHEME }, auth: [opts.privacyAuth, opts.signAuth] }, { slot });
    return this.attestResult(r.params.timeInfo, r.params.signature);
  }

  /** TPM2_Sign over a digest. Restricted keys need the validation ticket from hash()/sequenceComplete(). */
  async sign(keyHandle: number, digest: Uint8Array, opts: { scheme?: TPMTSigScheme; validation?: TPMTTKHashcheck; auth?: Authorization } = {}): Promise<TPMTSignature> {
    const r = await this.authed(C.Sign, { handles: [keyHandle], params: { digest, inScheme: opts.scheme ?? NULL_SCHEME, validation: opts.validation ?? NULL_HASHCHECK }, auth: [opts.auth] });
    return r.params.signature;
  }

  async verifySignature(keyHandle: number, digest: Uint8Array, signature: TPMTSignature): Promise<TPMTTKVerified> {
    return (await this.execute(C.VerifySignature, { handles: [keyHandle], params: { digest, signature } })).params.validation;
  }

  // ---------------------------------------------------------------------------------------------
  // Hashing

  /** TPM2_Hash (data up to 1024 bytes); the ticket is a real one only for a non-NULL hierarchy and data not starting with TPM_GENERATED_VALUE. */
  async hash(data: Uint8Array, hashAlg: number = TPM_ALG.SHA256, hierarchy: number = TPM_RH.NULL): Promise<{ outHash: Buffer; validation: TPMTTKHashcheck }> {
    const r = await this.execute(C.Hash, { params: { data, hashAlg, hierarchy } });
    return { outHash: Buffer.from(r.params.outHash), validation: r.params.validation };
  }

  async hashSequenceStart(hashAlg: number = TPM_ALG.SHA256, auth: Uint8Array | string = EMPTY): Promise<number> {
    return (await this.execute(C.HashSequenceStart, { params: { auth: bytes(auth), hashAlg } })).handle!;
  }

  async sequenceUpdate(sequenceHandle: number, buffer: Uint8Array, opts: { auth?: Authorization } = {}): Promise<void> {
    await this.authed(C.SequenceUpdate, { handles: [sequenceHandle], params: { buffer }, auth: [opts.auth] });
  }

  async sequenceComplete(sequenceHandle: number, buffer: Uint8Array = EMPTY, hierarchy: number = TPM_RH.NULL, opts: { auth?: Authorization } = {}): Promise<{ result: Buffer; validation: TPMTTKHashcheck }> {
    const r = await this.authed(C.SequenceComplete, { handles: [sequenceHandle], params: { buffer, hierarchy }, auth: [opts.auth] });
    return { result: Buffer.from(r.params.result), validation: r.params.validation };
  }

  /** Hashes any amount of data in the TPM: TPM2_Hash when it fits, else a hash sequence (flushed on error). */
  async hashData(data: Uint8Array, hashAlg: number = TPM_ALG.SHA256, hierarchy: number = TPM_RH.NULL): Promise<{ outHash: Buffer; validation: TPMTTKHashcheck }> {
    if (data.length <= 1024) return this.hash(data, hashAlg, hierarchy);
    return this.withTransient(async () => {
      const seq = await this.hashSequenceStart(hashAlg);
      let off = 0;
      for (; data.length - off > 1024; off += 1024) await this.sequenceUpdate(seq, data.subarray(off, off + 1024));
      const r = await this.sequenceComplete(seq, data.subarray(off), hierarchy);
      return { outHash: r.result, validation: r.validation };
    });
  }

  async dictionaryAttackLockReset(opts: { auth?: Authorization } = {}): Promise<void> {
    await this.authed(C.DictionaryAttackLockReset, { handles: [TPM_RH.LOCKOUT], params: {}, auth: [opts.auth] });
  }
}

/** Opens a TPM (see TPM.open). */
export function openTPM(uri?: string | TPMURI, opts?: OpenOptions): Promise<TPM> {
  return TPM.open(uri, opts);
}

export type { AuthSession };

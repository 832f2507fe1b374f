// Commands as declarative definitions, and the ONE execute path every command goes through:
// build header + handles + authorization area + parameters, send, check the response header and
// size, decode the response code, parse handles/parameters/authorization area, let the sessions
// verify the response, decode the parameters, and keep the handle bookkeeping. TPM_RC_RETRY,
// TPM_RC_YIELDED and TPM_RC_TESTING are retried with backoff.
import { TPM_ST, TPM_RC, TPMA_SESSION, TPM_HT, TPM_RS_PW, handleType, hex32 } from './constants.ts';
import { type Infer, type StructS, type Schema, Reader, Writer, encodeInto, unmarshal, read, malformedError } from './marshal.ts';
import { TPMError } from './rc.ts';
import { TPMMarshalError, TPMUsageError } from './tpmerrors.ts';
import { TPMSAuthCommand, TPMSAuthResponse } from './types.ts';
import { toSession, nodeHashName, type Authorization, type AuthSession, type CommandAuth } from './session.ts';
import { HandleTracker, type LiveKind } from './handles.ts';
import type { Transport } from './transport/transport.ts';
import { commandTimeoutMs } from './timeouts.ts';
import { createHash } from 'node:crypto';

export interface HandleDef {
  readonly name: string;
  /** Present when the handle needs an authorization session (its role, for documentation). */
  readonly auth?: 'user' | 'admin' | 'dup';
}

export type HandleRef = { readonly handle: number } | { readonly param: string };

/** What a successful command does to the TPM's entities, for the bookkeeping. */
export interface CommandEffects {
  /** The response handle is a new entity to track ('context': decided by the handle type). */
  readonly creates?: LiveKind | 'context';
  /** Entities that no longer exist afterwards. */
  readonly removes?: readonly HandleRef[];
  /** Entities whose Name may have changed (NV attributes such as WRITTEN, WRITELOCKED). */
  readonly renames?: readonly HandleRef[];
  /** A response field holding the Name of the response handle or of handle #i. */
  readonly nameOf?: { readonly field: string; readonly handle: 'response' | number };
  /** All transient entities are gone (Startup(CLEAR)). */
  readonly resets?: boolean;
}

export interface CommandDef<P extends StructS<any> = StructS<any>, R extends StructS<any> = StructS<any>> {
  /** Spec name, e.g. "TPM2_NV_Read". */
  readonly name: string;
  readonly code: number;
  readonly handles: readonly HandleDef[];
  readonly params: P;
  /** Name of the response handle, for the (at most one) command that returns one. */
  readonly responseHandle?: string;
  readonly response: R;
  readonly effects?: CommandEffects;
}

export function defineCommand<const P extends StructS<any>, const R extends StructS<any>>(d: CommandDef<P, R>): CommandDef<P, R> {
  return d;
}

export interface ExecuteRequest<P extends StructS<any>> {
  handles?: readonly number[];
  params: Infer<P>;
  /** One authorization per handle that needs one, in handle order; default: empty password. */
  auth?: ReadonlyArray<Authorization | undefined>;
  /** Further sessions after the authorizations (parameter encryption, audit). */
  sessions?: readonly AuthSession[];
  timeoutMs?: number;
}

export interface ExecuteResult<R extends StructS<any>> {
  handle?: number;
  params: Infer<R>;
  /** The response parameter area after decryption (what `params` was decoded from). */
  rawParameters: Buffer;
}

export interface RetryPolicy {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 12, initialDelayMs: 20, maxDelayMs: 1000 };

const RETRYABLE = new Set<number>([TPM_RC.RETRY, TPM_RC.YIELDED, TPM_RC.TESTING]);

// ------------------------------------------------------------------------------------------------
// Pure parts (exported for tests and fuzzing)

/** True when the first field of a parameter struct is a TPM2B (the one parameter encryption covers). */
export function firstIsTPM2B(s: StructS<any>): boolean {
  const first = Object.values(s.fields as Record<string, Schema>)[0];
  return !!first && ((first.k === 'buf' && first.len === 2) || first.k === 'sized');
}

export interface ParsedResponse {
  tag: number;
  rc: number;
  handle?: number;
  /** The parameter area, still encrypted if a session encrypted it. */
  parameters: Buffer;
  auths: Array<Infer<typeof TPMSAuthResponse>>;
}

/**
 * Checks a response's framing and splits it. A non-zero rc is returned, not thrown (the caller
 * decides about retries). Throws TPMMarshalError(TPM_MALFORMED_RESPONSE) for anything malformed.
 */
export function parseResponse(def: CommandDef, bytes: Uint8Array, sessionCount: number): ParsedResponse {
  if (!(bytes instanceof Uint8Array) || bytes.length < 10) throw malformedError(`${def.name}: response is ${bytes?.length ?? 0} bytes, shorter than a response header`);
  const r = new Reader(bytes);
  const tag = r.u16();
  const size = r.u32();
  const rc = r.u32();
  if (size !== bytes.length) throw malformedError(`${def.name}: header says ${size} bytes but ${bytes.length} arrived`);
  if (rc !== 0) {
    if (tag !== TPM_ST.NO_SESSIONS && tag !== TPM_ST.SESSIONS && tag !== TPM_ST.RSP_COMMAND) throw malformedError(`${def.name}: unknown response tag 0x${tag.toString(16)}`);
    if (size !== 10) throw malformedError(`${def.name}: an error response (rc 0x${rc.toString(16)}) carries ${size - 10} unexpected bytes`);
    return { tag, rc, parameters: Buffer.alloc(0), auths: [] };
  }
  const expectTag = sessionCount > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS;
  if (tag !== expectTag) throw malformedError(`${def.name}: response tag 0x${tag.toString(16)} does not match the command (expected 0x${expectTag.toString(16)})`);
  let handle: number | undefined;
  if (def.responseHandle) {
    handle = r.u32(`${def.name} response handle`);
    checkResponseHandle(def, handle);
  }
  let parameters: Buffer;
  const auths: ParsedResponse['auths'] = [];
  if (sessionCount > 0) {
    const psize = r.u32('parameterSize');
    if (psize > r.remaining) throw malformedError(`${def.name}: parameterSize ${psize} exceeds the ${r.remaining} bytes left`);
    parameters = r.bytes(psize);
    for (let i = 0; i < sessionCount; i++) auths.push(read(r, TPMSAuthResponse));
    r.done(`${def.name} authorization area`);
  } else {
    parameters = r.bytes(r.remaining);
  }
  return { tag, rc, ...(handle !== undefined ? { handle } : {}), parameters, auths };
}

function checkResponseHandle(def: CommandDef, h: number): void {
  const t = handleType(h);
  const c = def.effects?.creates;
  const ok = c === 'object' || c === 'sequence' ? t === TPM_HT.TRANSIENT
    : c === 'session' ? t === TPM_HT.HMAC_SESSION || t === TPM_HT.POLICY_SESSION
      : c === 'context' ? t === TPM_HT.TRANSIENT || t === TPM_HT.HMAC_SESSION || t === TPM_HT.POLICY_SESSION
        : true;
  if (!ok) throw malformedError(`${def.name}: returned handle ${hex32(h)} is not of the kind this command creates`);
}

/** Decodes a response parameter area (plaintext) into the command's response struct. */
export function decodeParameters<R extends StructS<any>>(def: CommandDef<any, R>, parameters: Uint8Array): Infer<R> {
  return unmarshal(def.response, parameters);
}

/** parseResponse + decodeParameters for a response without sessions; throws TPMError for rc != 0. */
export function decodeResponse<R extends StructS<any>>(def: CommandDef<any, R>, bytes: Uint8Array, sessionCount = 0): { handle?: number; params: Infer<R> } {
  const p = parseResponse(def, bytes, sessionCount);
  if (p.rc !== 0) throw new TPMError(p.rc, def.code);
  return { ...(p.handle !== undefined ? { handle: p.handle } : {}), params: decodeParameters(def, p.parameters) };
}

function marshalParams(def: CommandDef, params: unknown): Buffer {
  const w = new Writer();
  try {
    encodeInto(w, def.params, params);
  } catch (e) {
    if (e instanceof TPMMarshalError) throw new TPMMarshalError('TPM_BAD_VALUE', `${def.name}: ${e.message}`, { cause: e });
    throw e;
  }
  return w.finish();
}

/** Applies fn to the data bytes of the TPM2B at the front of `area`, returning a new area. */
function transformFirstTPM2B(area: Buffer, fn: (d: Uint8Array) => Uint8Array, what: string): Buffer {
  if (area.length < 2) throw malformedError(`${what}: no room for the first parameter's size`);
  const n = area.readUInt16BE(0);
  if (2 + n > area.length) throw malformedError(`${what}: the first parameter claims ${n} bytes but only ${area.length - 2} follow`);
  const out = Buffer.from(area);
  const t = fn(area.subarray(2, 2 + n));
  if (t.length !== n) throw new TPMUsageError('TPM_BAD_ARGUMENT', `${what}: parameter encryption changed the length`);
  out.set(t, 2);
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ------------------------------------------------------------------------------------------------
// The execute path

export type NameReader = (handle: number) => Promise<Uint8Array>;

export interface ExecutorOptions {
  retry?: RetryPolicy;
  /** One timeout for every command, replacing the per-command defaults (timeouts.ts). */
  timeoutMs?: number;
}

export class Executor {
  readonly transport: Transport;
  readonly tracker: HandleTracker;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Resolves a handle's Name (set by the TPM class; runs inside the lock). */
  nameReader: NameReader | undefined;

  constructor(transport: Transport, tracker: HandleTracker, opts: ExecutorOptions = {}) {
    this.transport = transport;
    this.tracker = tracker;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.timeoutMs = opts.timeoutMs;
  }

  /** Runs fn with the connection to itself: commands are never interleaved. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.then(() => undefined, () => undefined);
    return p;
  }

  execute<P extends StructS<any>, R extends StructS<any>>(def: CommandDef<P, R>, req: ExecuteRequest<P>): Promise<ExecuteResult<R>> {
    return this.exclusive(() => this.run(def, req));
  }

  /** The execute path itself; callers inside exclusive() (e.g. name lookups) call it directly. */
  async run<P extends StructS<any>, R extends StructS<any>>(def: CommandDef<P, R>, req: ExecuteRequest<P>): Promise<ExecuteResult<R>> {
    const handles = req.handles ?? [];
    if (handles.length !== def.handles.length) {
      throw new TPMUsageError('TPM_BAD_ARGUMENT', `${def.name} takes ${def.handles.length} handle(s) (${def.handles.map((h) => h.name).join(', ')}), ${handles.length} given.`);
    }
    const sessions: Array<{ s: AuthSession; authHandle: number | undefined }> = [];
    let k = 0;
    def.handles.forEach((h, i) => { if (h.auth) sessions.push({ s: toSession(req.auth?.[k++]), authHandle: handles[i] }); });
    for (const s of req.sessions ?? []) sessions.push({ s, authHandle: undefined });
    if (sessions.length > 3) throw new TPMUsageError('TPM_BAD_ARGUMENT', `${def.name}: at most 3 sessions per command, ${sessions.length} given.`);

    const plainParams = marshalParams(def, req.params);
    const names: Uint8Array[] = [];
    if (sessions.some((x) => x.s.needsNames)) for (const h of handles) names.push(await this.nameOf(h));

    const canDecrypt = firstIsTPM2B(def.params);
    const canEncrypt = firstIsTPM2B(def.response);
    let parsed: ParsedResponse | undefined;
    let sentAttrs: number[] = [];
    let encIdx = -1;
    for (let attempt = 1; ; attempt++) {
      for (const x of sessions) x.s.begin?.();
      // A session set up for parameter encryption is also used for commands without a TPM2B to
      // encrypt: the TPM would refuse the attribute there (TPM_RC_ATTRIBUTES), so it is cleared.
      const mask = ~((canDecrypt ? 0 : TPMA_SESSION.decrypt) | (canEncrypt ? 0 : TPMA_SESSION.encrypt));
      const attrs = sessions.map((x) => x.s.attributes & mask);
      const decIdx = attrs.findIndex((a) => (a & TPMA_SESSION.decrypt) !== 0);
      encIdx = attrs.findIndex((a) => (a & TPMA_SESSION.encrypt) !== 0);
      let params = plainParams;
      if (decIdx >= 0) {
        const enc = sessions[decIdx]!.s.encryptParameter;
        if (!enc) throw new TPMUsageError('TPM_BAD_ARGUMENT', `${def.name}: a session asks for parameter encryption but cannot encrypt.`);
        params = transformFirstTPM2B(params, (d) => enc.call(sessions[decIdx]!.s, d, sessions[decIdx]!.authHandle), def.name);
      }
      if (encIdx >= 0 && !sessions[encIdx]!.s.decryptParameter) {
        throw new TPMUsageError('TPM_BAD_ARGUMENT', `${def.name}: a session asks for response encryption but cannot decrypt.`);
      }
      let cp: Map<number, Buffer> | undefined;
      const cpHash = (alg: number): Buffer => {
        cp ??= new Map();
        let v = cp.get(alg);
        if (!v) {
          const h = createHash(nodeHashName(alg));
          const cc = Buffer.alloc(4); cc.writeUInt32BE(def.code, 0); h.update(cc);
          for (const n of names) h.update(n);
          h.update(params);
          v = h.digest();
          cp.set(alg, v);
        }
        return v;
      };
      const auths: CommandAuth[] = [];
      for (let i = 0; i < sessions.length; i++) {
        const x = sessions[i]!;
        auths.push(await x.s.commandAuth({
          commandCode: def.code, handles, names, parameters: params, cpHash, index: i, authHandle: x.authHandle, sessionAttributes: attrs[i]!,
          ...(i === 0 && decIdx > 0 && sessions[decIdx]!.s.nonceTPM ? { nonceDecrypt: sessions[decIdx]!.s.nonceTPM! } : {}),
          ...(i === 0 && encIdx > 0 && encIdx !== decIdx && sessions[encIdx]!.s.nonceTPM ? { nonceEncrypt: sessions[encIdx]!.s.nonceTPM! } : {}),
        }));
      }
      sentAttrs = auths.map((a) => a.sessionAttributes);
      if (auths.some((a, i) => a.sessionAttributes !== attrs[i])) throw new TPMUsageError('TPM_BAD_ARGUMENT', `${def.name}: a session changed its attributes after they were fixed for the command.`);

      const w = new Writer(64 + params.length);
      w.u16(sessions.length ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS);
      const sizeAt = w.reserveU32();
      w.u32(def.code);
      for (const h of handles) w.u32(h);
      if (sessions.length) {
        const authAt = w.reserveU32();
        const start = w.length;
        for (let i = 0; i < sessions.length; i++) encodeInto(w, TPMSAuthCommand, { sessionHandle: sessions[i]!.s.handle, ...auths[i]! });
        w.patchU32(authAt, w.length - start);
      }
      w.bytes(params);
      w.patchU32(sizeAt, w.length);
      const resp = await this.transport.send(w.finish(), { timeoutMs: req.timeoutMs ?? this.timeoutMs ?? commandTimeoutMs(def.code, req.params), command: def.name });
      parsed = parseResponse(def, resp, sessions.length);
      if (parsed.rc === 0) break;
      if (RETRYABLE.has(parsed.rc) && attempt < this.retry.attempts) {
        await sleep(Math.min(this.retry.maxDelayMs, this.retry.initialDelayMs * 2 ** (attempt - 1)));
        continue;
      }
      throw new TPMError(parsed.rc, def.code, errorContext(def, handles, parsed.rc));
    }

    let rp: Map<number, Buffer> | undefined;
    const rawParams = parsed.parameters;
    const rpHash = (alg: number): Buffer => {
      rp ??= new Map();
      let v = rp.get(alg);
      if (!v) {
        const h = createHash(nodeHashName(alg));
        const head = Buffer.alloc(8); head.writeUInt32BE(0, 0); head.writeUInt32BE(def.code, 4); h.update(head);
        h.update(rawParams);
        v = h.digest();
        rp.set(alg, v);
      }
      return v;
    };
    for (let i = 0; i < sessions.length; i++) {
      await sessions[i]!.s.verifyResponse({ commandCode: def.code, parameters: rawParams, rpHash, index: i, authHandle: sessions[i]!.authHandle }, parsed.auths[i]!);
    }
    let params = rawParams;
    if (encIdx >= 0) {
      const x = sessions[encIdx]!;
      params = transformFirstTPM2B(params, (d) => x.s.decryptParameter!(d, x.authHandle), def.name);
    }
    const out = decodeParameters(def, params);
    this.applyEffects(def, handles, req.params as Record<string, unknown>, parsed.handle, out as Record<string, unknown>);
    sessions.forEach((x, i) => { if (x.s.handle !== TPM_RS_PW && !(sentAttrs[i]! & TPMA_SESSION.continueSession)) this.tracker.gone(x.s.handle); });
    return { ...(parsed.handle !== undefined ? { handle: parsed.handle } : {}), params: out, rawParameters: params };
  }

  private applyEffects(def: CommandDef, handles: readonly number[], params: Record<string, unknown>, respHandle: number | undefined, out: Record<string, unknown>): void {
    const e = def.effects;
    if (!e) return;
    const ref = (r: HandleRef): number | undefined => ('handle' in r ? handles[r.handle] : (params[r.param] as number | undefined));
    if (e.resets) this.tracker.reset();
    for (const r of e.removes ?? []) { const h = ref(r); if (h !== undefined) this.tracker.gone(h); }
    for (const r of e.renames ?? []) { const h = ref(r); if (h !== undefined) this.tracker.forgetName(h); }
    if (e.creates && respHandle !== undefined) {
      const t = handleType(respHandle);
      const kind: LiveKind = e.creates === 'context' ? (t === TPM_HT.TRANSIENT ? 'object' : 'session') : e.creates;
      this.tracker.created(respHandle, kind);
    }
    if (e.nameOf) {
      const h = e.nameOf.handle === 'response' ? respHandle : handles[e.nameOf.handle];
      const n = out[e.nameOf.field];
      if (h !== undefined && n instanceof Uint8Array && n.length > 0) this.tracker.setName(h, n);
    }
  }

  /** The Name of an entity for cpHash: cached, the handle itself, or read from the TPM. */
  async nameOf(handle: number): Promise<Uint8Array> {
    const c = this.tracker.cachedName(handle);
    if (c) return c;
    if (!this.nameReader) throw new TPMUsageError('TPM_BAD_ARGUMENT', `No way to read the Name of handle ${hex32(handle)}.`);
    return this.nameReader(handle);
  }
}

function errorContext(def: CommandDef, handles: readonly number[], rc: number): string | undefined {
  if (!(rc & 0x80)) return undefined;
  const n = (rc >>> 8) & 0xf;
  if (rc & 0x40) {
    const field = Object.keys(def.params.fields)[n - 1];
    return field ? `checking parameter ${n} (${field})` : undefined;
  }
  if (rc & 0x800) return undefined;
  const h = handles[(n & 7) - 1];
  const d = def.handles[(n & 7) - 1];
  return h !== undefined && d ? `using handle ${n & 7} (${d.name} = ${hex32(h)})` : undefined;
}

// Bookkeeping of TPM entities for one connection: which transient objects, sequences and sessions
// we created and have not flushed (so they can be flushed on close and at the end of a
// withTransient scope, on success and on error), and a cache of entity Names for cpHash.
import { AsyncLocalStorage } from 'node:async_hooks';
import { TPM_HT, handleType } from './constants.ts';

export type LiveKind = 'object' | 'sequence' | 'session';

/** A set of transient handles created inside one withTransient block. */
export class TransientScope {
  readonly handles = new Set<number>();
  readonly parent: TransientScope | undefined;

  constructor(parent: TransientScope | undefined) {
    this.parent = parent;
  }

  /** Hands a handle to the enclosing scope (or to nobody: the caller then owns it) instead of flushing it here. */
  keep(handle: number): void {
    if (this.handles.delete(handle)) this.parent?.handles.add(handle);
  }
}

export class HandleTracker {
  readonly live = new Map<number, LiveKind>();
  private readonly names = new Map<number, Buffer>();
  readonly scopes = new AsyncLocalStorage<TransientScope>();

  created(handle: number, kind: LiveKind): void {
    this.live.set(handle, kind);
    this.scopes.getStore()?.handles.add(handle);
  }

  /** The entity is gone from the TPM (flushed, auto-flushed, evicted, undefined). */
  gone(handle: number): void {
    this.live.delete(handle);
    this.names.delete(handle);
    for (let s = this.scopes.getStore(); s; s = s.parent) s.handles.delete(handle);
  }

  /** Startup(CLEAR) or a TPM reset: every transient entity and every cached Name is invalid. */
  reset(): void {
    this.live.clear();
    this.names.clear();
  }

  kind(handle: number): LiveKind | undefined {
    return this.live.get(handle);
  }

  cachedName(handle: number): Buffer | undefined {
    return this.names.get(handle);
  }

  setName(handle: number, name: Uint8Array): void {
    this.names.set(handle, Buffer.from(name));
  }

  forgetName(handle: number): void {
    this.names.delete(handle);
  }
}

/** Entities whose Name is their handle (PCRs, permanent handles, sessions). */
export function nameIsHandle(handle: number): boolean {
  const t = handleType(handle);
  return t === TPM_HT.PCR || t === TPM_HT.PERMANENT || t === TPM_HT.HMAC_SESSION || t === TPM_HT.POLICY_SESSION;
}

export function handleBytes(handle: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(handle >>> 0, 0);
  return b;
}

// Adapts hardware/'s TPM to the few operations the TUF anchor and time floor need. Writes use
// owner authorization (our indices are OWNERWRITE; owner auth from TOLLGATE_OWNER_AUTH, empty by
// default), reads use the index itself (AUTHREAD, empty index auth) through the secure session.
import { setTimeout as sleep } from 'node:timers/promises';
import { TPM_RH, TPMError, type TPM } from '../hardware/index.ts';
import type { DeviceTPM } from './client.ts';
import { TufError } from './errors.ts';

/** Refused increments (TPM_RC_EXCLUSIVE) before giving up on a TPM that other clients keep busy. */
const CAS_ATTEMPTS = 64;

/** One raise at a time per connection (see nvRaise). */
const casQueue = new WeakMap<TPM, Promise<unknown>>();

/** TPM_RC_HANDLE: NV_ReadPublic on an index that is not defined. */
function isUndefinedIndex(e: unknown): boolean {
  return e instanceof TPMError && (e.info.base === 0x08b || e.code === 'TPM_RC_HANDLE');
}

export function deviceTPM(tpm: TPM, opts: { ownerAuth?: string } = {}): DeviceTPM {
  const ownerAuth = opts.ownerAuth ?? process.env.TOLLGATE_OWNER_AUTH ?? '';
  const write = { authHandle: TPM_RH.OWNER, authorization: ownerAuth };
  return {
    async nvPublic(index) {
      try {
        const { nvPublic } = await tpm.nvReadPublic(index);
        return { attributes: nvPublic.attributes >>> 0, dataSize: nvPublic.dataSize };
      } catch (e) {
        if (isUndefinedIndex(e)) return undefined;
        throw e;
      }
    },
    async nvDefine(index, size, attributes) {
      await tpm.nvDefineSpace({ nvIndex: index, dataSize: size, attributes }, { authorization: ownerAuth });
    },
    async nvRead(index, size) {
      // Through the salted session: its response HMAC means nobody on the bus can hand us a lower
      // rollback floor or another root digest than the TPM holds.
      return tpm.nvRead(index, { size, offset: 0, authHandle: index, authorization: '', secure: true });
    },
    async nvWrite(index, data) {
      await tpm.nvWrite(index, data, write);
    },
    async nvWriteLock(index) {
      await tpm.nvWriteLock(index, write);
    },
    async nvIncrement(index) {
      await tpm.nvIncrement(index, write);
    },
    // Compare-and-increment on the TPM itself. The read (audit: 'reset') makes this connection's
    // secure session the TPM's exclusive audit session; each increment demands that it still is
    // (audit: 'exclusive'), so the TPM refuses it with TPM_RC_EXCLUSIVE if any other client's
    // command ran since our last audited one: then we read again. While increments succeed, the
    // value stays known without reading (nothing can have changed it). That makes "increment only
    // while below the limit" atomic against every other process, also through /dev/tpmrm0 (the
    // resource manager's ContextSave/Load take no sessions and do not count). Callers in one
    // process share the session, so exclusivity cannot tell them apart: they are queued here.
    nvRaise(index, limit, onStep) {
      const run = async (): Promise<{ value: bigint; increments: number }> => {
        let increments = 0;
        let known: bigint | undefined;
        for (let refused = 0; ;) {
          if (known === undefined) {
            const b = await tpm.nvRead(index, { size: 8, offset: 0, authHandle: index, authorization: '', secure: true, audit: 'reset' });
            known = Buffer.from(b).readBigUInt64BE(0);
          }
          if (known >= limit) return { value: known, increments };
          const session = await tpm.secureSession();
          try {
            await tpm.nvIncrement(index, { ...write, audit: 'exclusive' });
          } catch (e) {
            if (!(e instanceof TPMError && e.code === 'TPM_RC_EXCLUSIVE')) throw e;
            if (++refused >= CAS_ATTEMPTS) {
              throw new TufError('TUF_TPM_BUSY', `Other TPM clients interrupted raising counter 0x${index.toString(16)} ${CAS_ATTEMPTS} times; retry when the TPM is less busy.`, 'environment', { cause: e });
            }
            known = undefined;
            // Random back-off, so two raisers that keep displacing each other fall out of step.
            await sleep(Math.floor(Math.random() * Math.min(64, 2 ** refused)));
            continue;
          }
          known++;
          increments++;
          onStep?.();
          // The TPM checks exclusivity only on a session already used for audit. Had the secure
          // session been started again for this increment (the old one was flushed under us), it
          // went through unchecked: read the counter again rather than trust `known`.
          if ((await tpm.secureSession()) !== session) known = undefined;
        }
      };
      const prev = casQueue.get(tpm) ?? Promise.resolve();
      const p = prev.then(run, run);
      casQueue.set(tpm, p.catch(() => undefined));
      return p;
    },
    async readClock() {
      const t = await tpm.readClock();
      const c = t.clockInfo;
      return { clock: BigInt(c.clock), resetCount: Number(c.resetCount), restartCount: Number(c.restartCount), safe: Boolean(c.safe) };
    },
  };
}

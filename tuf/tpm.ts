// Adapts hardware/'s TPM to the few operations the TUF anchor and time floor need. Writes use
// owner authorization (our indices are OWNERWRITE; owner auth from TOLLGATE_OWNER_AUTH, empty by
// default), reads use the index itself (AUTHREAD, empty index auth) through the secure session.
import { TPM_RH, TPMError, type TPM } from '../hardware/index.ts';
import type { DeviceTPM } from './client.ts';

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
    async readClock() {
      const t = await tpm.readClock();
      const c = t.clockInfo;
      return { clock: BigInt(c.clock), resetCount: Number(c.resetCount), restartCount: Number(c.restartCount), safe: Boolean(c.safe) };
    },
  };
}

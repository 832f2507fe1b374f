// The secure session as an exclusive audit session (NVAuthOptions.audit): a read with
// audit 'reset' and an increment with audit 'exclusive' form a compare-and-increment the TPM
// refuses (TPM_RC_EXCLUSIVE) when any other command ran in between. tuf/'s rollback counters rely
// on it to never overshoot when writers race.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSwtpm } from '../swtpm.ts';
import { openTPM, PasswordSession, TPMError, TPMUsageError, TPM_NT, TPM_RH, TPMA_NV } from '../../hardware/index.ts';

test('audit: reset read + exclusive increments chain; any command in between makes the TPM refuse the increment', async () => {
  const sw = await startSwtpm({ ek: false });
  const tpm = await openTPM(sw.uri);
  try {
    const CTR = 0x01500300;
    const owner = { authHandle: TPM_RH.OWNER, authorization: '' };
    await tpm.nvDefineSpace({ nvIndex: CTR, dataSize: 8, attributes: (TPM_NT.COUNTER << 4) | TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA });
    await tpm.nvIncrement(CTR, owner);
    const read = async () => (await tpm.nvRead(CTR, { size: 8, authHandle: CTR, authorization: '', secure: true, audit: 'reset' })).readBigUInt64BE(0);

    const v0 = await read();
    // Nothing in between: each exclusive increment goes through, and the next one needs no read
    // (the counter's Name stays known, so no NV_ReadPublic ends the exclusivity).
    await tpm.nvIncrement(CTR, { ...owner, audit: 'exclusive' });
    await tpm.nvIncrement(CTR, { ...owner, audit: 'exclusive' });
    assert.equal(await read(), v0 + 2n);

    // Another command in between (here on the same connection; any client counts): refused.
    await tpm.getRandom(8);
    await assert.rejects(tpm.nvIncrement(CTR, { ...owner, audit: 'exclusive' }), (e: unknown) => e instanceof TPMError && e.code === 'TPM_RC_EXCLUSIVE');
    assert.equal(await read(), v0 + 2n, 'the refused increment changed nothing');
    // The session survives the refusal: read again, and the increment goes through.
    await tpm.nvIncrement(CTR, { ...owner, audit: 'exclusive' });
    assert.equal(await read(), v0 + 3n);

    // Audit rides on the secure session only.
    await assert.rejects(tpm.nvIncrement(CTR, { ...owner, secure: false, audit: 'exclusive' }), TPMUsageError);
    await assert.rejects(tpm.nvIncrement(CTR, { authHandle: TPM_RH.OWNER, authorization: new PasswordSession(''), audit: 'exclusive' }), TPMUsageError);
    await tpm.nvUndefineSpace(CTR);
  } finally {
    await tpm.close();
    await sw.stop();
  }
});

// Response-code decoding: format-0 errors and warnings, format-1 with parameter/handle/session
// index, vendor and TPM 1.2 codes, and how they surface in TPMError.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRC, rcToString, TPMError, isRC, TPM_CC, TollgateError } from '../../hardware/index.ts';

describe('decodeRC', () => {
  it('format-1 with a session index: 0x9a2 is TPM_RC_BAD_AUTH in session 1', () => {
    const i = decodeRC(0x9a2);
    assert.equal(i.name, 'TPM_RC_BAD_AUTH');
    assert.equal(i.format, 1);
    assert.equal(i.session, 1);
    assert.equal(i.handle, undefined);
    assert.equal(i.parameter, undefined);
    assert.equal(i.base, 0x0a2);
    assert.equal(rcToString(0x9a2), 'TPM_RC_BAD_AUTH (session 1)');
  });

  it('format-1 with parameter and handle indexes', () => {
    assert.deepEqual([decodeRC(0x1c4).name, decodeRC(0x1c4).parameter], ['TPM_RC_VALUE', 1]);
    assert.deepEqual([decodeRC(0x2c4).name, decodeRC(0x2c4).parameter], ['TPM_RC_VALUE', 2]);
    assert.deepEqual([decodeRC(0xfd5).name, decodeRC(0xfd5).parameter], ['TPM_RC_SIZE', 15]);
    assert.deepEqual([decodeRC(0x18b).name, decodeRC(0x18b).handle], ['TPM_RC_HANDLE', 1]);
    assert.deepEqual([decodeRC(0x28b).name, decodeRC(0x28b).handle], ['TPM_RC_HANDLE', 2]);
    assert.deepEqual([decodeRC(0x98e).name, decodeRC(0x98e).session], ['TPM_RC_AUTH_FAIL', 1]);
    assert.deepEqual([decodeRC(0xa8e).name, decodeRC(0xa8e).session], ['TPM_RC_AUTH_FAIL', 2]);
    assert.equal(rcToString(0x18b), 'TPM_RC_HANDLE (handle 1)');
    assert.equal(rcToString(0x3d2), 'TPM_RC_SCHEME (parameter 3)');
    assert.equal(decodeRC(0x09d).name, 'TPM_RC_POLICY_FAIL');
    assert.equal(rcToString(0x09d), 'TPM_RC_POLICY_FAIL');
  });

  it('format-0 errors and warnings', () => {
    assert.equal(decodeRC(0x100).name, 'TPM_RC_INITIALIZE');
    assert.equal(decodeRC(0x101).name, 'TPM_RC_FAILURE');
    assert.equal(decodeRC(0x148).name, 'TPM_RC_NV_LOCKED');
    assert.equal(decodeRC(0x14c).name, 'TPM_RC_NV_DEFINED');
    assert.equal(decodeRC(0x14a).name, 'TPM_RC_NV_UNINITIALIZED');
    assert.equal(decodeRC(0x143).name, 'TPM_RC_COMMAND_CODE');
    const lockout = decodeRC(0x921);
    assert.equal(lockout.name, 'TPM_RC_LOCKOUT');
    assert.equal(lockout.warning, true);
    assert.equal(decodeRC(0x922).name, 'TPM_RC_RETRY');
    assert.equal(decodeRC(0x908).name, 'TPM_RC_YIELDED');
    assert.equal(decodeRC(0x90a).name, 'TPM_RC_TESTING');
    assert.equal(decodeRC(0x902).name, 'TPM_RC_OBJECT_MEMORY');
    assert.equal(decodeRC(0x910).name, 'TPM_RC_REFERENCE_H0');
    assert.equal(decodeRC(0x918).name, 'TPM_RC_REFERENCE_S0');
    assert.equal(decodeRC(0).name, 'TPM_RC_SUCCESS');
  });

  it('vendor, TPM 1.2 and unknown codes get a name and never throw', () => {
    assert.match(decodeRC(0x1e).name, /^TPM_RC_VER1_/);
    assert.match(decodeRC(0x1e).description, /TPM 1\.2/);
    assert.match(decodeRC(0x500).name, /^TPM_RC_VENDOR_/);
    assert.match(decodeRC(0x17f).name, /^TPM_RC_FMT0_/);
    assert.match(decodeRC(0x93f).name, /^TPM_RC_WARN_/);
    assert.match(decodeRC(0x0bf).name, /^TPM_RC_FMT1_/);
    for (let rc = 0; rc < 0x10000; rc += 7) {
      const i = decodeRC(rc);
      assert.equal(typeof i.name, 'string');
      assert.ok(new TPMError(rc) instanceof TollgateError);
    }
    decodeRC(0xffffffff);
  });
});

describe('TPMError', () => {
  it('carries the rc, the base name as code, the index in the message, and an exit class', () => {
    const e = new TPMError(0x9a2, TPM_CC.NV_Read);
    assert.equal(e.code, 'TPM_RC_BAD_AUTH');
    assert.equal(e.rc, 0x9a2);
    assert.equal(e.errorClass, 'denied');
    assert.equal(e.exitCode, 1);
    assert.match(e.message, /TPM2_NV_Read failed/);
    assert.match(e.message, /session 1/);
    assert.deepEqual(e.toJSON().details, { rc: 0x9a2, rcName: 'TPM_RC_BAD_AUTH (session 1)', command: 'TPM2_NV_Read', session: 1 });
    const lock = new TPMError(0x921);
    assert.equal(lock.code, 'TPM_RC_LOCKOUT');
    assert.equal(lock.errorClass, 'environment');
    assert.match(lock.message, /lockout/i);
    assert.equal(new TPMError(0x148).errorClass, 'denied');
    assert.equal(new TPMError(0x18b).errorClass, 'environment');
    assert.ok(isRC(new TPMError(0x28b), 0x08b));
    assert.ok(isRC(new TPMError(0x101), 0x101));
    assert.ok(!isRC(new Error('x'), 0x101));
  });
});

// The TPM stack against a real swtpm: bring-up, every command family, NV, PCRs, keys, sessions,
// attestation, bookkeeping of transient handles, and cross-checks with tpm2-tools. One swtpm for
// the whole file; the last test asserts that nothing transient is left in it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, verify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Swtpm } from '../swtpm.ts';
import { hardwareSwtpm } from './shared-swtpm.ts';
import {
  TPM, openTPM, openTransport, TPMError, TPMUsageError, TollgateError, PasswordSession, commands, parseResponse, marshal, unmarshal,
  TPM_ALG, TPM_CC, TPM_HT, TPM_RH, TPM_ST, TPM_SE, TPM_PT, TPM_NT, TPMA_NV, TPMA_ALGORITHM, TPM_ECC, TPM_GENERATED_VALUE,
  TPMSNVPublic, TPMSContext, makeCredential, policySecret as swPolicySecret, policyOR as swPolicyOR, policyCommandCode as swPolicyCommandCode,
  type TPMSECCPoint, type TPMSSignatureECC, type TPMSSignatureRSA, type TPMSQuoteInfo, type TPMSCertifyInfo, type TPMTPublic,
} from '../../hardware/index.ts';
import { eccStorage, eccSigning, rsaSigning, sealed, softwareName, nodeKey } from './templates.ts';

const sha256 = (...b: Uint8Array[]) => { const h = createHash('sha256'); for (const x of b) h.update(x); return h.digest(); };
const sha1 = (...b: Uint8Array[]) => { const h = createHash('sha1'); for (const x of b) h.update(x); return h.digest(); };
const ZERO32 = Buffer.alloc(32);

function p1363(sig: TPMSSignatureECC): Buffer {
  const pad = (b: Uint8Array) => Buffer.concat([Buffer.alloc(Math.max(0, 32 - b.length)), Buffer.from(b)]);
  return Buffer.concat([pad(sig.signatureR), pad(sig.signatureS)]);
}

function rcOf(e: unknown): number {
  assert.ok(e instanceof TPMError, `expected a TPMError, got ${String(e)}`);
  return e.rc;
}

let sw: Swtpm;
let tpm: TPM;

async function reopen(): Promise<void> {
  await tpm.close();
  tpm = await openTPM(sw.uri);
}

before(async () => {
  sw = await hardwareSwtpm();
});

after(async () => {
  await tpm?.close().catch(() => undefined);
  await sw?.stop();
});

describe('bring-up', () => {
  it('brings an un-initialised swtpm up: TPM_RC_FAILURE, INIT, TPM_RC_INITIALIZE, Startup(CLEAR)', async () => {
    // The raw state first: an un-initialised swtpm answers every command with TPM_RC_FAILURE.
    const raw = await openTransport(sw.uri);
    const probe = Buffer.from('80010000000c0000017b0008', 'hex'); // GetRandom(8), framed by hand
    const resp = await raw.send(probe);
    assert.equal(parseResponse(commands.GetRandom, resp, 0).rc, 0x101);
    tpm = await TPM.fromTransport(raw, { startup: false });
    assert.deepEqual(await tpm.bringUp(), ['init', 'startup']);
    assert.equal((await tpm.getRandom(16)).length, 16);
  });

  it('a second open of a started TPM only probes it; a second Startup answers TPM_RC_INITIALIZE and is fine', async () => {
    await tpm.close();
    tpm = await TPM.open(sw.uri, { startup: false });
    assert.deepEqual(await tpm.bringUp(), []);
    assert.equal(await tpm.startup(), false);
    await reopen();
    assert.equal((await tpm.getRandom(1)).length, 1);
  });
});

describe('capabilities, randomness, clock', () => {
  it('getRandom returns the requested number of distinct random bytes, across several TPM2_GetRandom calls', async () => {
    const a = await tpm.getRandom(200);
    const b = await tpm.getRandom(200);
    assert.equal(a.length, 200);
    assert.notDeepEqual(a, b);
    assert.equal((await tpm.getRandom(0)).length, 0);
    await assert.rejects(tpm.getRandom(-1), TPMUsageError);
  });

  it('reports properties, banks, algorithms, commands, curves and handles', async () => {
    const props = await tpm.properties();
    assert.ok(props.has(TPM_PT.MANUFACTURER) && props.has(TPM_PT.NV_BUFFER_MAX) && props.has(TPM_PT.LOCKOUT_COUNTER));
    const info = await tpm.info();
    assert.match(info.manufacturer, /^[\x20-\x7e]{1,4}$/);
    assert.equal(info.family, '2.0');
    const banks = await tpm.pcrBanks();
    const s256 = banks.find((b) => b.hash === TPM_ALG.SHA256);
    assert.ok(s256 && s256.pcrSelect.every((x) => x === 0xff), 'sha256 bank with all PCRs allocated');
    const algs = await tpm.algorithms();
    const sha = algs.find((a) => a.alg === TPM_ALG.SHA256);
    assert.ok(sha && (sha.algProperties & TPMA_ALGORITHM.hash));
    assert.ok((await tpm.commands()).includes(TPM_CC.Quote));
    assert.ok((await tpm.eccCurves()).includes(TPM_ECC.NIST_P256));
    const nv = await tpm.handles(TPM_HT.NV_INDEX);
    assert.ok(nv.includes(0x01c00002), 'swtpm_setup put the RSA EK certificate at 0x01c00002');
    assert.ok(nv.every((h) => h >>> 24 === TPM_HT.NV_INDEX));
  });

  it('readClock gives bigint time and clock with reset/restart counters; the clock does not go back', async () => {
    const a = await tpm.readClock();
    const b = await tpm.readClock();
    assert.equal(typeof a.time, 'bigint');
    assert.equal(typeof a.clockInfo.clock, 'bigint');
    assert.ok(b.clockInfo.clock >= a.clockInfo.clock);
    assert.ok(b.time >= a.time);
    assert.equal(b.clockInfo.resetCount, a.clockInfo.resetCount);
    assert.ok(a.clockInfo.safe === 0 || a.clockInfo.safe === 1);
  });
});

describe('PCRs', () => {
  it('PCR_Extend matches a software extend in both banks; PCR_Reset clears PCR 16', async () => {
    await tpm.pcrReset(16);
    const before = await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [16] }, { hash: TPM_ALG.SHA1, pcrs: [16] }]);
    assert.deepEqual(before.values.map((v) => v.digest), [ZERO32, Buffer.alloc(20)]);
    const d256 = sha256(Buffer.from('ledger entry 1'));
    const d1 = sha1(Buffer.from('ledger entry 1'));
    await tpm.pcrExtend(16, [{ hashAlg: TPM_ALG.SHA256, digest: d256 }, { hashAlg: TPM_ALG.SHA1, digest: d1 }]);
    const after1 = await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [16] }, { hash: TPM_ALG.SHA1, pcrs: [16] }]);
    assert.deepEqual(after1.values[0]!.digest, sha256(ZERO32, d256));
    assert.deepEqual(after1.values[1]!.digest, sha1(Buffer.alloc(20), d1));
    // (PCR 16 is in the no-increment group, so pcrUpdateCounter need not move.)
    // PCR_Event: the TPM hashes the data itself.
    const ev = Buffer.from('event data');
    const digests = await tpm.pcrEvent(16, ev);
    assert.deepEqual(Buffer.from(digests.find((d) => d.hashAlg === TPM_ALG.SHA256)!.digest), sha256(ev));
    const after2 = await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [16] }]);
    assert.deepEqual(after2.values[0]!.digest, sha256(sha256(ZERO32, d256), sha256(ev)));
    await tpm.pcrReset(16);
    assert.deepEqual((await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [16] }])).values[0]!.digest, ZERO32);
  });

  it('pcrRead loops past the 8-digest limit and returns every PCR in order', async () => {
    const all = Array.from({ length: 24 }, (_, i) => i);
    const r = await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: all }, { hash: TPM_ALG.SHA1, pcrs: all }]);
    assert.equal(r.values.length, 48);
    assert.deepEqual(r.values.map((v) => `${v.hash}:${v.pcr}`), [...all.map((p) => `${TPM_ALG.SHA256}:${p}`), ...all.map((p) => `${TPM_ALG.SHA1}:${p}`)]);
    const raw = await tpm.pcrReadRaw([{ hash: TPM_ALG.SHA256, pcrs: all }]);
    assert.equal(raw.pcrValues.length, 8, 'one TPM2_PCR_Read answers at most 8 digests');
  });

  it('refuses PCRs of a bank that is not allocated, and bad PCR indexes', async () => {
    await assert.rejects(tpm.pcrRead([{ hash: TPM_ALG.SHA384, pcrs: [0] }]), (e: unknown) => e instanceof TPMUsageError && /not available/.test(e.message));
    await assert.rejects(tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [-1] }]), TPMUsageError);
  });

  it('a PCR that does not exist is TPM_RC_VALUE on handle 1, named in the message', async () => {
    await assert.rejects(tpm.pcrExtend(24, [{ hashAlg: TPM_ALG.SHA256, digest: ZERO32 }]), (e: unknown) => {
      assert.ok(e instanceof TPMError);
      assert.equal(e.rc, 0x184);
      assert.equal(e.code, 'TPM_RC_VALUE');
      assert.equal(e.info.handle, 1);
      assert.match(e.message, /pcrHandle = 0x00000018/);
      return true;
    });
  });

  it('locality (swtpm control port): PCR 20 is extended and reset only from locality 2, not 0', async () => {
    const d = [{ hashAlg: TPM_ALG.SHA256, digest: ZERO32 }];
    await assert.rejects(tpm.pcrExtend(20, d), (e: unknown) => e instanceof TPMError && e.code === 'TPM_RC_LOCALITY');
    await tpm.transport.setLocality!(2);
    try {
      // PCRs 17-22 start at all ones until a D-RTM event resets them.
      const before = (await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [20] }])).values[0]!.digest;
      await tpm.pcrExtend(20, d);
      assert.deepEqual((await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [20] }])).values[0]!.digest, sha256(before, ZERO32));
      await tpm.pcrReset(20);
      assert.deepEqual((await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [20] }])).values[0]!.digest, ZERO32);
    } finally {
      await tpm.transport.setLocality!(0);
    }
    await assert.rejects(tpm.pcrReset(20), (e: unknown) => e instanceof TPMError && e.code === 'TPM_RC_LOCALITY');
  });
});

describe('NV', () => {
  const ORD = 0x01500010;
  const CTR = 0x01500020;
  const PWD = 0x01500030;
  const LOCK = 0x01500040;

  it('defines, writes and reads back an index larger than one NV buffer (chunked), and undefines it', async () => {
    const size = Math.min(2048, (await tpm.property(TPM_PT.NV_INDEX_MAX))!);
    const chunk = (await tpm.property(TPM_PT.NV_BUFFER_MAX))!;
    assert.ok(size > chunk, 'the index needs several chunks');
    await tpm.nvDefineSpace({ nvIndex: ORD, dataSize: size, attributes: TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA });
    await assert.rejects(tpm.nvRead(ORD), (e: unknown) => rcOf(e) === 0x14a && (e as TPMError).code === 'TPM_RC_NV_UNINITIALIZED');
    const before = await tpm.nvReadPublic(ORD);
    assert.equal(before.nvPublic.dataSize, size);
    // nvName = nameAlg ‖ H(TPMS_NV_PUBLIC), from our own marshalling.
    assert.deepEqual(before.nvName, Buffer.concat([Buffer.from([0, 0x0b]), sha256(marshal(TPMSNVPublic, before.nvPublic))]));
    const data = randomBytes(size);
    await tpm.nvWrite(ORD, data);
    assert.deepEqual(await tpm.nvRead(ORD), data);
    assert.deepEqual(await tpm.nvRead(ORD, { offset: 1000, size: 100 }), data.subarray(1000, 1100));
    const after = await tpm.nvReadPublic(ORD);
    assert.ok(after.nvPublic.attributes & TPMA_NV.WRITTEN);
    assert.notDeepEqual(after.nvName, before.nvName, 'the Name changes once WRITTEN is set');
    await assert.rejects(tpm.nvRead(ORD, { offset: size - 1, size: 2 }), TPMUsageError);
    await assert.rejects(tpm.nvDefineSpace({ nvIndex: ORD, dataSize: 8, attributes: TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD }), (e: unknown) => rcOf(e) === 0x14c && (e as TPMError).code === 'TPM_RC_NV_DEFINED');
    await tpm.nvUndefineSpace(ORD);
    await assert.rejects(tpm.nvReadPublic(ORD), (e: unknown) => {
      assert.ok(e instanceof TPMError);
      assert.equal(e.code, 'TPM_RC_HANDLE');
      assert.equal(e.info.handle, 1);
      assert.match(e.message, /handle 1/);
      assert.equal(e.errorClass, 'environment');
      return true;
    });
  });

  it('write-locks an index: further writes fail with TPM_RC_NV_LOCKED, reads still work', async () => {
    await tpm.nvDefineSpace({ nvIndex: LOCK, dataSize: 32, attributes: TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.WRITEDEFINE | TPMA_NV.NO_DA });
    const digest = sha256(Buffer.from('pinned root'));
    await tpm.nvWrite(LOCK, digest);
    await tpm.nvWriteLock(LOCK);
    assert.ok((await tpm.nvReadPublic(LOCK)).nvPublic.attributes & TPMA_NV.WRITELOCKED);
    await assert.rejects(tpm.nvWrite(LOCK, ZERO32), (e: unknown) => rcOf(e) === 0x148 && (e as TPMError).code === 'TPM_RC_NV_LOCKED' && (e as TPMError).errorClass === 'denied');
    assert.deepEqual(await tpm.nvRead(LOCK), digest);
    // AUTHREAD: reading with the index's own (empty) authorization also works.
    assert.deepEqual(await tpm.nvRead(LOCK, { authHandle: LOCK }), digest);
    await tpm.nvUndefineSpace(LOCK);
  });

  it('counters increment monotonically, also across undefine and redefine', async () => {
    const attrs = (TPM_NT.COUNTER << 4) | TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA;
    await tpm.nvDefineSpace({ nvIndex: CTR, dataSize: 8, attributes: attrs });
    await assert.rejects(tpm.nvReadCounter(CTR), (e: unknown) => rcOf(e) === 0x14a);
    await tpm.nvIncrement(CTR);
    const v1 = await tpm.nvReadCounter(CTR);
    await tpm.nvIncrement(CTR);
    await tpm.nvIncrement(CTR);
    const v3 = await tpm.nvReadCounter(CTR);
    assert.equal(v3, v1 + 2n);
    await assert.rejects(tpm.nvWrite(CTR, Buffer.alloc(8)), TPMError, 'a counter cannot be written');
    await tpm.nvUndefineSpace(CTR);
    await tpm.nvDefineSpace({ nvIndex: CTR, dataSize: 8, attributes: attrs });
    await tpm.nvIncrement(CTR);
    const again = await tpm.nvReadCounter(CTR);
    assert.ok(again >= v3, `a redefined counter starts at the TPM-wide maximum (${again} >= ${v3})`);
    await tpm.nvUndefineSpace(CTR);
  });

  it('index passwords: the right one works, a wrong one is TPM_RC_BAD_AUTH (noDA index, session 1)', async () => {
    await tpm.nvDefineSpace({ nvIndex: PWD, dataSize: 16, attributes: TPMA_NV.AUTHWRITE | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA }, { auth: 'index secret' });
    await tpm.nvWrite(PWD, Buffer.from('0123456789abcdef'), { authorization: 'index secret' });
    assert.equal((await tpm.nvRead(PWD, { authorization: new PasswordSession('index secret') })).toString(), '0123456789abcdef');
    await assert.rejects(tpm.nvRead(PWD, { authorization: 'wrong' }), (e: unknown) => {
      assert.ok(e instanceof TPMError);
      assert.equal(e.code, 'TPM_RC_BAD_AUTH');
      assert.equal(e.info.session, 1);
      assert.equal(e.errorClass, 'denied');
      return true;
    });
    await tpm.nvUndefineSpace(PWD);
  });

  it('refuses a handle that is not an NV index before talking to the TPM', async () => {
    await assert.rejects(tpm.nvRead(0x81000001), TPMUsageError);
  });
});

describe('objects, signing, hashing', () => {
  it('CreatePrimary/ReadPublic: the Name the TPM reports equals nameAlg ‖ H(our marshalling of the public area)', async () => {
    await tpm.withTransient(async () => {
      const srk = await tpm.createPrimary(TPM_RH.OWNER, eccStorage());
      assert.equal(srk.handle >>> 24, TPM_HT.TRANSIENT);
      assert.deepEqual(srk.name, softwareName(srk.outPublic));
      const rp = await tpm.readPublic(srk.handle);
      assert.deepEqual(rp.name, srk.name);
      assert.deepEqual(rp.outPublic, srk.outPublic);
      assert.equal((rp.outPublic.unique as TPMSECCPoint).x.length, 32);
      assert.deepEqual(srk.creationData.parentName, Buffer.from('40000001', 'hex'));
      // The same template gives the same primary key (deterministic from the owner seed).
      const again = await tpm.createPrimary(TPM_RH.OWNER, eccStorage());
      assert.deepEqual(again.name, srk.name);
    });
  });

  it('Create/Load an ECC signing key; Sign verifies with Node crypto and with TPM2_VerifySignature', async () => {
    await tpm.withTransient(async () => {
      const srk = await tpm.createPrimary(TPM_RH.OWNER, eccStorage());
      const k = await tpm.create(srk.handle, eccSigning());
      const { handle, name } = await tpm.load(srk.handle, k.outPrivate, k.outPublic);
      assert.deepEqual(name, softwareName(k.outPublic));
      const msg = Buffer.from('device key message');
      const sig = await tpm.sign(handle, sha256(msg));
      assert.equal(sig.sigAlg, TPM_ALG.ECDSA);
      assert.ok(verify('sha256', msg, { key: nodeKey(k.outPublic), dsaEncoding: 'ieee-p1363' }, p1363(sig.signature as TPMSSignatureECC)));
      const ticket = await tpm.verifySignature(handle, sha256(msg), sig);
      assert.equal(ticket.tag, TPM_ST.VERIFIED);
      await assert.rejects(tpm.verifySignature(handle, sha256(Buffer.from('other')), sig), (e: unknown) => (e as TPMError).code === 'TPM_RC_SIGNATURE');
    });
  });

  it('an RSA-2048 key signs RSASSA-SHA256 that Node verifies; LoadExternal of its public part verifies too', async () => {
    await tpm.withTransient(async () => {
      const k = await tpm.createPrimary(TPM_RH.NULL, rsaSigning());
      assert.equal((k.outPublic.unique as Uint8Array).length, 256);
      const msg = Buffer.from('rsa message');
      const sig = await tpm.sign(k.handle, sha256(msg));
      assert.equal(sig.sigAlg, TPM_ALG.RSASSA);
      assert.ok(verify('sha256', msg, nodeKey(k.outPublic), (sig.signature as TPMSSignatureRSA).sig));
      await tpm.flushContext(k.handle);
      const ext = await tpm.loadExternal(k.outPublic);
      assert.deepEqual(ext.name, k.name);
      assert.equal((await tpm.verifySignature(ext.handle, sha256(msg), sig)).tag, TPM_ST.VERIFIED);
    });
  });

  it('a restricted key signs only with a hash ticket; TPM2_Hash and hash sequences match software', async () => {
    await tpm.withTransient(async () => {
      const ak = await tpm.createPrimary(TPM_RH.OWNER, eccSigning(true));
      const data = Buffer.from('restricted sign input');
      const h = await tpm.hash(data, TPM_ALG.SHA256, TPM_RH.OWNER);
      assert.deepEqual(h.outHash, sha256(data));
      assert.equal(h.validation.tag, TPM_ST.HASHCHECK);
      assert.ok(h.validation.digest.length > 0);
      const sig = await tpm.sign(ak.handle, h.outHash, { validation: h.validation });
      assert.ok(verify('sha256', data, { key: nodeKey(ak.outPublic), dsaEncoding: 'ieee-p1363' }, p1363(sig.signature as TPMSSignatureECC)));
      await assert.rejects(tpm.sign(ak.handle, h.outHash), (e: unknown) => (e as TPMError).code === 'TPM_RC_TICKET');
      // Data that starts with TPM_GENERATED_VALUE gets a NULL ticket, so it cannot be signed.
      const forged = Buffer.concat([Buffer.from('ff544347', 'hex'), data]);
      const fh = await tpm.hash(forged, TPM_ALG.SHA256, TPM_RH.OWNER);
      assert.equal(fh.validation.digest.length, 0);
      // Large data goes through a hash sequence; the sequence handle is flushed by SequenceComplete.
      const big = randomBytes(5000);
      const hb = await tpm.hashData(big, TPM_ALG.SHA256, TPM_RH.OWNER);
      assert.deepEqual(hb.outHash, sha256(big));
      const seq = await tpm.hashSequenceStart(TPM_ALG.SHA1);
      await tpm.sequenceUpdate(seq, big.subarray(0, 1024));
      assert.ok(tpm.liveHandles().includes(seq));
      const done = await tpm.sequenceComplete(seq, big.subarray(1024, 1500));
      assert.deepEqual(done.result, sha1(big.subarray(0, 1500)));
      assert.ok(!tpm.liveHandles().includes(seq));
    });
  });

  it('seals and unseals data', async () => {
    await tpm.withTransient(async () => {
      const srk = await tpm.createPrimary(TPM_RH.OWNER, eccStorage());
      const secret = randomBytes(48);
      const obj = await tpm.create(srk.handle, sealed(), { sensitive: { data: secret, userAuth: 'unseal-pw' } });
      const { handle } = await tpm.load(srk.handle, obj.outPrivate, obj.outPublic);
      assert.deepEqual(await tpm.unseal(handle, { auth: 'unseal-pw' }), secret);
      await assert.rejects(tpm.unseal(handle, { auth: 'nope' }), (e: unknown) => (e as TPMError).code === 'TPM_RC_BAD_AUTH');
    });
  });

  it('EvictControl persists and removes an object; ContextSave/ContextLoad restore a flushed key', async () => {
    const PERSIST = 0x81000123;
    await tpm.withTransient(async () => {
      const srk = await tpm.createPrimary(TPM_RH.OWNER, eccStorage());
      await tpm.evictControl(TPM_RH.OWNER, srk.handle, PERSIST);
      assert.ok((await tpm.handles(TPM_HT.PERSISTENT)).includes(PERSIST));
      assert.deepEqual((await tpm.readPublic(PERSIST)).name, srk.name);
      const k = await tpm.create(PERSIST, eccSigning());
      const key = await tpm.load(PERSIST, k.outPrivate, k.outPublic);
      const ctx = await tpm.contextSave(key.handle);
      assert.deepEqual(unmarshal(TPMSContext, marshal(TPMSContext, ctx)), ctx);
      await tpm.flushContext(key.handle);
      assert.ok(!tpm.liveHandles().includes(key.handle));
      const back = await tpm.contextLoad(ctx);
      assert.ok(tpm.liveHandles().includes(back));
      const sig = await tpm.sign(back, sha256(Buffer.from('x')));
      assert.ok(verify('sha256', Buffer.from('x'), { key: nodeKey(k.outPublic), dsaEncoding: 'ieee-p1363' }, p1363(sig.signature as TPMSSignatureECC)));
      await tpm.evictControl(TPM_RH.OWNER, PERSIST, PERSIST);
      assert.ok(!(await tpm.handles(TPM_HT.PERSISTENT)).includes(PERSIST));
    });
  });
});

describe('sessions and policy', () => {
  it('PolicySecret(endorsement) and PolicyOR give the digests computed in software (EK policy A)', async () => {
    await tpm.withTransient(async () => {
      const s = await tpm.startPolicySession();
      assert.equal(s.handle >>> 24, TPM_HT.POLICY_SESSION);
      assert.equal(s.nonceTPM.length, 32);
      assert.deepEqual(await tpm.policyGetDigest(s.handle), ZERO32);
      await tpm.policySecret(TPM_RH.ENDORSEMENT, s.handle, { nonceTPM: s.nonceTPM });
      const a = await tpm.policyGetDigest(s.handle);
      assert.deepEqual(a, Buffer.from(swPolicySecret('sha256', Buffer.from('4000000b', 'hex'))));
      assert.equal(a.toString('hex'), '837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa');
      const other = sha256(Buffer.from('branch b'));
      await tpm.policyOR(s.handle, [a, other]);
      assert.deepEqual(await tpm.policyGetDigest(s.handle), Buffer.from(swPolicyOR('sha256', [a, other])));
      // PolicyOR refuses a list that does not contain the current digest.
      await tpm.policyRestart(s.handle);
      await assert.rejects(tpm.policyOR(s.handle, [other, other]), (e: unknown) => (e as TPMError).code === 'TPM_RC_VALUE');
    });
  });

  it('a trial session computes PolicyCommandCode; sessions are flushed by withTransient', async () => {
    let handle = 0;
    await tpm.withTransient(async () => {
      const s = await tpm.startPolicySession({ trial: true });
      handle = s.handle;
      await tpm.policyCommandCode(s.handle, TPM_CC.ActivateCredential);
      assert.deepEqual(await tpm.policyGetDigest(s.handle), Buffer.from(swPolicyCommandCode('sha256', TPM_CC.ActivateCredential)));
      assert.ok((await tpm.handles(TPM_HT.LOADED_SESSION)).includes(handle));
    });
    assert.ok(!(await tpm.handles(TPM_HT.LOADED_SESSION)).includes(handle));
    assert.ok(!(await tpm.handles(TPM_HT.POLICY_SESSION)).includes(handle));
  });

  it('an HMAC session can be started and is tracked until flushed', async () => {
    const s = await tpm.startAuthSession({ sessionType: TPM_SE.HMAC });
    assert.equal(s.handle >>> 24, TPM_HT.HMAC_SESSION);
    assert.ok(tpm.liveHandles().includes(s.handle));
    await tpm.flushContext(s.handle);
    assert.ok(!tpm.liveHandles().includes(s.handle));
  });
});

describe('credentials and attestation', () => {
  it('ActivateCredential recovers a credential made by the TPM and one made in software for the storage key', async () => {
    await tpm.withTransient(async () => {
      const ek = await tpm.createPrimary(TPM_RH.OWNER, eccStorage());
      const ak = await tpm.createPrimary(TPM_RH.OWNER, eccSigning(true));
      const cred = randomBytes(32);
      const made = await tpm.makeCredential(ek.handle, cred, ak.name);
      assert.deepEqual(await tpm.activateCredential(ak.handle, ek.handle, made.credentialBlob, made.secret), cred);
      const u = ek.outPublic.unique as TPMSECCPoint;
      const sw2 = makeCredential({ type: 'ecc', curve: 'P-256', x: u.x, y: u.y, nameAlg: 'sha256', symmetric: { alg: 'aes', bits: 128 } }, ak.name, cred);
      assert.deepEqual(await tpm.activateCredential(ak.handle, ek.handle, sw2.credentialBlob, sw2.secret), cred);
      // Bound to the AK's Name: a credential for another name does not activate.
      const wrong = await tpm.makeCredential(ek.handle, cred, softwareName(eccSigning(false)));
      await assert.rejects(tpm.activateCredential(ak.handle, ek.handle, wrong.credentialBlob, wrong.secret), TPMError);
    });
  });

  it('Quote: signature verifies, nonce and PCR digest match what PCR_Read reports', async () => {
    await tpm.withTransient(async () => {
      const ak = await tpm.createPrimary(TPM_RH.OWNER, eccSigning(true));
      const nonce = randomBytes(32);
      const sel = [{ hash: TPM_ALG.SHA256, pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 16] }];
      const pcrs = await tpm.pcrRead(sel);
      const q = await tpm.quote(ak.handle, nonce, sel);
      assert.equal(q.attest.magic, TPM_GENERATED_VALUE);
      assert.equal(q.attest.type, TPM_ST.ATTEST_QUOTE);
      assert.deepEqual(Buffer.from(q.attest.extraData), nonce);
      assert.deepEqual(Buffer.from(q.attest.qualifiedSigner), Buffer.concat([Buffer.from([0, 0x0b]), sha256(Buffer.from('40000001', 'hex'), ak.name)]));
      const info = q.attest.attested as TPMSQuoteInfo;
      assert.deepEqual(Buffer.from(info.pcrDigest), sha256(...pcrs.values.map((v) => v.digest)));
      assert.ok(verify('sha256', q.attestBytes, { key: nodeKey(ak.outPublic), dsaEncoding: 'ieee-p1363' }, p1363(q.signature.signature as TPMSSignatureECC)));
      const flipped = Buffer.from(q.attestBytes);
      flipped[flipped.length - 1]! ^= 1;
      assert.ok(!verify('sha256', flipped, { key: nodeKey(ak.outPublic), dsaEncoding: 'ieee-p1363' }, p1363(q.signature.signature as TPMSSignatureECC)));
      assert.equal(q.signatureBytes.readUInt16BE(0), TPM_ALG.ECDSA);
    });
  });

  it('Certify: the AK certifies the device key; GetTime is signed too', async () => {
    await tpm.withTransient(async () => {
      const srk = await tpm.createPrimary(TPM_RH.OWNER, eccStorage());
      const dk = await tpm.create(srk.handle, eccSigning(false));
      const dev = await tpm.load(srk.handle, dk.outPrivate, dk.outPublic);
      await tpm.flushContext(srk.handle); // at most 3 transient objects on swtpm
      const ak = await tpm.createPrimary(TPM_RH.OWNER, eccSigning(true));
      const c = await tpm.certify(dev.handle, ak.handle, Buffer.from('certify nonce'));
      assert.equal(c.attest.type, TPM_ST.ATTEST_CERTIFY);
      assert.deepEqual(Buffer.from((c.attest.attested as TPMSCertifyInfo).name), dev.name);
      assert.ok(verify('sha256', c.attestBytes, { key: nodeKey(ak.outPublic), dsaEncoding: 'ieee-p1363' }, p1363(c.signature.signature as TPMSSignatureECC)));
      const t = await tpm.getTime(ak.handle, Buffer.from('time nonce'));
      assert.equal(t.attest.type, TPM_ST.ATTEST_TIME);
    });
  });
});

describe('transient handle bookkeeping', () => {
  it('withTransient flushes what it created when the block throws', async () => {
    let created = 0;
    const boom = new Error('boom');
    await assert.rejects(tpm.withTransient(async () => {
      created = (await tpm.createPrimary(TPM_RH.OWNER, eccSigning())).handle;
      await tpm.startPolicySession();
      throw boom;
    }), (e) => e === boom);
    assert.ok(created !== 0);
    assert.deepEqual(await tpm.handles(TPM_HT.TRANSIENT), []);
    // What is left is at most the connection's secure session (NV writes above used it).
    const own = tpm.secureSessionHandle === undefined ? [] : [tpm.secureSessionHandle];
    assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), own);
    assert.deepEqual(tpm.liveHandles(), own);
  });

  it('scope.keep hands a handle to the enclosing scope; it is flushed when that one ends', async () => {
    let kept = 0;
    await tpm.withTransient(async () => {
      await tpm.withTransient(async (inner) => {
        kept = (await tpm.createPrimary(TPM_RH.OWNER, eccSigning())).handle;
        inner.keep(kept);
      });
      assert.ok((await tpm.handles(TPM_HT.TRANSIENT)).includes(kept));
    });
    assert.ok(!(await tpm.handles(TPM_HT.TRANSIENT)).includes(kept));
  });

  it('close() flushes what the connection created', async () => {
    const h = (await tpm.createPrimary(TPM_RH.OWNER, eccSigning())).handle;
    await reopen();
    assert.ok(!(await tpm.handles(TPM_HT.TRANSIENT)).includes(h));
  });

  it('wrong handle counts and values are usage errors, not TPM traffic', async () => {
    await assert.rejects(tpm.execute(commands.ReadPublic, { handles: [], params: {} }), TPMUsageError);
    await assert.rejects(tpm.execute(commands.GetRandom, { params: { bytesRequested: 70000 } }), (e: unknown) => e instanceof TollgateError && e.code === 'TPM_BAD_VALUE' && e.errorClass === 'usage');
  });
});

describe('interop with tpm2-tools', () => {
  const tools = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, TPM2TOOLS_TCTI: sw.tcti }, stdio: ['ignore', 'pipe', 'pipe'] });

  it('tpm2_pcrread and tpm2_nvread see what we wrote; we see what tpm2_pcrextend and tpm2_nvwrite wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-hw-'));
    let reopened = false;
    try {
      const NV = 0x01500050;
      const d = sha256(Buffer.from('ours'));
      await tpm.pcrExtend(16, [{ hashAlg: TPM_ALG.SHA256, digest: d }]);
      const ours = (await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [16] }])).values[0]!.digest;
      const payload = randomBytes(40);
      await tpm.nvDefineSpace({ nvIndex: NV, dataSize: 40, attributes: TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA });
      await tpm.nvWrite(NV, payload);
      await tpm.close(); // one client at a time
      const pcrOut = tools('tpm2_pcrread', ['sha256:16']);
      assert.equal(/16\s*:\s*0x([0-9A-Fa-f]+)/.exec(pcrOut)?.[1]?.toLowerCase(), ours.toString('hex'));
      tools('tpm2_nvread', ['-C', 'o', '-s', '40', '-o', join(dir, 'nv.bin'), `0x${NV.toString(16)}`]);
      assert.deepEqual(readFileSync(join(dir, 'nv.bin')), payload);
      const theirs = sha256(Buffer.from('theirs'));
      tools('tpm2_pcrextend', [`16:sha256=${theirs.toString('hex')}`]);
      const replacement = randomBytes(40);
      writeFileSync(join(dir, 'in.bin'), replacement);
      tools('tpm2_nvwrite', ['-C', 'o', '-i', join(dir, 'in.bin'), `0x${NV.toString(16)}`]);
      const rnd = tools('tpm2_getrandom', ['--hex', '8']).trim();
      assert.match(rnd, /^[0-9a-f]{16}$/);
      tpm = await openTPM(sw.uri);
      reopened = true;
      assert.deepEqual((await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [16] }])).values[0]!.digest, sha256(ours, theirs));
      assert.deepEqual(await tpm.nvRead(NV), replacement);
      await tpm.nvUndefineSpace(NV);
      await tpm.pcrReset(16);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      if (!reopened) tpm = await openTPM(sw.uri);
    }
  });
});

describe('end of suite', () => {
  it('leaves no transient objects and no sessions in the TPM', async () => {
    // The open connection holds nothing but (at most) its own secure session; close() flushes it.
    const own = tpm.secureSessionHandle === undefined ? [] : [tpm.secureSessionHandle];
    assert.deepEqual(await tpm.handles(TPM_HT.TRANSIENT), []);
    assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), own);
    assert.deepEqual(tpm.liveHandles(), own);
    await reopen();
    assert.deepEqual(await tpm.handles(TPM_HT.TRANSIENT), []);
    assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), []);
    assert.deepEqual(await tpm.handles(TPM_HT.SAVED_SESSION), []);
    assert.deepEqual(tpm.liveHandles(), []);
    await tpm.shutdown();
  });
});

// The connection's secure session through the public TPM API against swtpm: commands that carry a
// secret (authorized NV writes, credential activation, passwords, sealed data) are salted and
// encrypted on the wire without the caller asking; a response altered in transit is detected; a
// command altered in transit is refused by the TPM; quote/sign/PCR read stay on the cheap password
// path; and nothing transient is left behind.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hardwareSwtpm } from './shared-swtpm.ts';
import type { Swtpm } from '../swtpm.ts';
import { Wire, parseCommand, leaks } from './wire.ts';
import {
  TPM, openTPM, PasswordSession, PolicySession, HmacSession, TPMError, TollgateError, TPMResponseAuthError, TPMTransportError,
  TPM_ALG, TPM_CC, TPM_HT, TPM_NT, TPM_RH, TPM_RS_PW, TPMA_NV, TPMA_OBJECT, TPMA_SESSION, DEFAULT_SALT_KEY,
  makeCredential, tpmPublicKey, policySecret as swPolicySecret, saltKeyTemplate, type OpenOptions,
} from '../../hardware/index.ts';
import { eccStorage, eccSigning, sealed } from './templates.ts';

const NV_AUTH = 0x01500301;
const NV_OWNER = 0x01500302;
const NV_CTR = 0x01500303;
const NV_FLIP = 0x01500304;
const ALL_NV = [NV_AUTH, NV_OWNER, NV_CTR, NV_FLIP];
const PASSWORD = 'index password 7f3a';
const AK_PASSWORD = 'ak admin password 91c2';
const { decrypt: DEC, encrypt: ENC, continueSession: CONT } = TPMA_SESSION;

let sw: Swtpm;
let persistedSRK = false;

async function open(opts: OpenOptions = {}): Promise<{ tpm: TPM; wire: Wire }> {
  let wire!: Wire;
  const tpm = await openTPM(sw.uri, { ...opts, wrapTransport: (t) => (wire = new Wire(t)) });
  return { tpm, wire };
}

/** Runs fn on a fresh recorded connection, always closes it. */
async function session<T>(fn: (tpm: TPM, wire: Wire) => Promise<T>, opts: OpenOptions = {}): Promise<T> {
  const { tpm, wire } = await open(opts);
  try {
    return await fn(tpm, wire);
  } finally {
    await tpm.close();
  }
}

/** A fresh connection sees no transient object and no session. */
async function assertNothingLeft(): Promise<void> {
  const tpm = await openTPM(sw.uri);
  try {
    assert.deepEqual(await tpm.handles(TPM_HT.TRANSIENT), [], 'transient objects left');
    assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), [], 'loaded sessions left');
    assert.deepEqual(await tpm.handles(TPM_HT.SAVED_SESSION), [], 'saved sessions left');
  } finally {
    await tpm.close();
  }
}

/** StartAuthSession's parameters, split by hand. */
function startParams(p: Buffer): { encryptedSalt: Buffer; sessionType: number; sym: number; keyBits: number; mode: number; authHash: number } {
  let at = 2 + p.readUInt16BE(0);
  const n = p.readUInt16BE(at);
  const encryptedSalt = p.subarray(at + 2, at + 2 + n);
  at += 2 + n;
  return { encryptedSalt, sessionType: p[at]!, sym: p.readUInt16BE(at + 1), keyBits: p.readUInt16BE(at + 3), mode: p.readUInt16BE(at + 5), authHash: p.readUInt16BE(at + 7) };
}

function isSecureSessionHandle(h: number): boolean {
  return h >>> 24 === TPM_HT.HMAC_SESSION;
}

/** The EK-like key of the tests: restricted decrypt under the endorsement hierarchy, usable only through PolicySecret(TPM_RH_ENDORSEMENT). */
function ekLike() {
  const t = eccStorage();
  t.objectAttributes = (t.objectAttributes & ~TPMA_OBJECT.userWithAuth) | TPMA_OBJECT.adminWithPolicy;
  t.authPolicy = Buffer.from(swPolicySecret('sha256', Buffer.from('4000000b', 'hex')));
  return t;
}

async function ekPolicySession(tpm: TPM): Promise<PolicySession> {
  const ps = await PolicySession.start(tpm, { continueSession: false });
  await tpm.policySecret(TPM_RH.ENDORSEMENT, ps.handle, { nonceTPM: ps.nonceTPM });
  return ps;
}

function isResponseCheckFailure(e: unknown): boolean {
  return e instanceof TollgateError && (e.code === 'TPM_RESPONSE_AUTH_FAILED' || e.code === 'TPM_MALFORMED_RESPONSE');
}

before(async () => {
  sw = await hardwareSwtpm();
  // The index most tests write through the secure session.
  const tpm = await openTPM(sw.uri);
  try {
    await tpm.nvDefineSpace({ nvIndex: NV_FLIP, dataSize: 32, attributes: TPMA_NV.AUTHWRITE | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA }, { auth: PASSWORD });
  } finally {
    await tpm.close();
  }
});

after(async () => {
  try {
    const tpm = await openTPM(sw.uri);
    for (const nv of ALL_NV) await tpm.nvUndefineSpace(nv).catch(() => undefined);
    if (persistedSRK) await tpm.evictControl(TPM_RH.OWNER, DEFAULT_SALT_KEY, DEFAULT_SALT_KEY).catch(() => undefined);
    await tpm.close();
  } finally {
    await sw?.stop();
  }
});

describe('secure session by default', () => {
  it('an authorized NV write and read go through one salted, AES-CFB session: neither the data nor the index password crosses the wire in clear', async () => {
    await session(async (tpm, wire) => {
      await tpm.nvDefineSpace({ nvIndex: NV_AUTH, dataSize: 64, attributes: TPMA_NV.AUTHWRITE | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA }, { auth: PASSWORD });
      const secret = randomBytes(64);
      await tpm.nvWrite(NV_AUTH, secret, { authorization: PASSWORD });
      assert.deepEqual(await tpm.nvRead(NV_AUTH, { authorization: PASSWORD }), secret);

      // One session for the connection, salted (tpmKey set, encrypted salt sent), unbound, HMAC, AES-128-CFB.
      const starts = wire.commands(TPM_CC.StartAuthSession).map((x) => parseCommand(x.command));
      assert.equal(starts.length, 1);
      const [tpmKey, bind] = starts[0]!.handles;
      assert.notEqual(tpmKey, TPM_RH.NULL, 'the session is salted');
      assert.equal(bind, TPM_RH.NULL, 'the session is unbound');
      const sp = startParams(starts[0]!.parameters);
      assert.ok(sp.encryptedSalt.length > 0);
      assert.deepEqual([sp.sessionType, sp.sym, sp.keyBits, sp.mode, sp.authHash], [0x00, TPM_ALG.AES, 128, TPM_ALG.CFB, TPM_ALG.SHA256]);
      // No SRK in this TPM: the salt key is a NULL-hierarchy primary, flushed right after StartAuthSession.
      const cps = wire.commands(TPM_CC.CreatePrimary).map((x) => parseCommand(x.command));
      assert.equal(cps.length, 1);
      assert.equal(cps[0]!.handles[0], TPM_RH.NULL);
      const flushes = wire.commands(TPM_CC.FlushContext).map((x) => x.command.readUInt32BE(10));
      assert.deepEqual(flushes, [tpmKey]);
      assert.deepEqual(await tpm.handles(TPM_HT.TRANSIENT), []);
      const s = await tpm.secureSession();
      assert.deepEqual(s.saltedTo?.handle, tpmKey);
      assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), [s.handle]);

      // Every command that carried a secret used it, with the parameter encryption the command allows.
      const sessionOf = (cc: number) => wire.commands(cc).map((x) => parseCommand(x.command).sessions);
      for (const [cc, attrs] of [[TPM_CC.NV_DefineSpace, DEC | CONT], [TPM_CC.NV_Write, DEC | CONT], [TPM_CC.NV_Read, ENC | CONT]] as const) {
        const all = sessionOf(cc);
        assert.equal(all.length, 1);
        assert.equal(all[0]!.length, 1);
        assert.equal(all[0]![0]!.handle, s.handle);
        assert.equal(all[0]![0]!.attributes, attrs, `session attributes of command 0x${cc.toString(16)}`);
      }
      assert.equal(leaks(wire.sentBytes(), secret), false, 'data written in clear');
      assert.equal(leaks(wire.receivedBytes(), secret), false, 'data read back in clear');
      assert.equal(leaks([...wire.sentBytes(), ...wire.receivedBytes()], Buffer.from(PASSWORD)), false, 'password on the wire');

      // The check above can fail: the same write with an explicit password session shows both.
      wire.log = [];
      await tpm.nvWrite(NV_AUTH, secret, { authorization: new PasswordSession(PASSWORD) });
      assert.equal(parseCommand(wire.log.at(-1)!.command).sessions[0]!.handle, TPM_RS_PW);
      assert.equal(leaks(wire.sentBytes(), secret), true);
      assert.equal(leaks(wire.sentBytes(), Buffer.from(PASSWORD)), true);
    });
    await assertNothingLeft();
  });

  it('writes and increments under an empty owner password are HMAC-protected too; reads with an empty password stay on the password path unless secure: true', async () => {
    await session(async (tpm, wire) => {
      await tpm.nvDefineSpace({ nvIndex: NV_OWNER, dataSize: 32, attributes: TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA });
      await tpm.nvDefineSpace({ nvIndex: NV_CTR, dataSize: 8, attributes: TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA | (TPM_NT.COUNTER << 4) });
      const data = randomBytes(32);
      await tpm.nvWrite(NV_OWNER, data);
      await tpm.nvIncrement(NV_CTR);
      const s = await tpm.secureSession();
      const last = (cc: number) => parseCommand(wire.commands(cc).at(-1)!.command).sessions;
      assert.equal(last(TPM_CC.NV_Write)[0]!.handle, s.handle);
      assert.equal(last(TPM_CC.NV_Write)[0]!.attributes, DEC | CONT);
      assert.equal(last(TPM_CC.NV_Increment)[0]!.handle, s.handle);
      assert.equal(last(TPM_CC.NV_Increment)[0]!.attributes, CONT, 'no parameters to encrypt');
      assert.equal(leaks(wire.sentBytes(), data), false);

      assert.deepEqual(await tpm.nvRead(NV_OWNER), data);
      assert.equal(last(TPM_CC.NV_Read)[0]!.handle, TPM_RS_PW, 'an empty-password read is not a secret');
      assert.equal(leaks([wire.commands(TPM_CC.NV_Read).at(-1)!.response], data), true);
      assert.deepEqual(await tpm.nvRead(NV_OWNER, { secure: true }), data);
      assert.equal(last(TPM_CC.NV_Read)[0]!.handle, s.handle);
      assert.equal(leaks([wire.commands(TPM_CC.NV_Read).at(-1)!.response], data), false);
      assert.equal(await tpm.nvReadCounter(NV_CTR, { secure: true }) > 0n, true);
      // secure: false opts a write out.
      await tpm.nvWrite(NV_OWNER, data, { secure: false });
      assert.equal(last(TPM_CC.NV_Write)[0]!.handle, TPM_RS_PW);
      assert.equal(wire.commands(TPM_CC.StartAuthSession).length, 1, 'one session for the whole connection');
    });
    await assertNothingLeft();
  });

  it('credential activation: the AK password and the recovered credential never cross the wire in clear; the EK policy session is used as given', async () => {
    await session(async (tpm, wire) => {
      await tpm.withTransient(async () => {
        const ek = await tpm.createPrimary(TPM_RH.ENDORSEMENT, ekLike());
        const ak = await tpm.createPrimary(TPM_RH.OWNER, eccSigning(true), { sensitive: { userAuth: AK_PASSWORD } });
        const s = await tpm.secureSession();
        // The AK's new authValue went in through the secure session (CreatePrimary with decrypt).
        const cp = parseCommand(wire.commands(TPM_CC.CreatePrimary).filter((x) => x.command.readUInt32BE(10) === TPM_RH.OWNER).at(-1)!.command);
        assert.equal(cp.sessions[0]!.handle, s.handle);
        assert.equal(cp.sessions[0]!.attributes & DEC, DEC);

        const cred = randomBytes(32);
        const made = makeCredential(tpmPublicKey(ek.outPublic), ak.name, cred);
        const ps = await ekPolicySession(tpm);
        wire.log = [];
        assert.deepEqual(await tpm.activateCredential(ak.handle, ek.handle, made.credentialBlob, made.secret, { activateAuth: AK_PASSWORD, keyAuth: ps }), cred);
        const ac = parseCommand(wire.commands(TPM_CC.ActivateCredential)[0]!.command);
        assert.equal(ac.sessions.length, 2);
        assert.equal(ac.sessions[0]!.handle, s.handle);
        assert.equal(ac.sessions[0]!.attributes, DEC | ENC | CONT);
        assert.equal(ac.sessions[1]!.handle, ps.handle);
        assert.equal(leaks(wire.receivedBytes(), cred), false, 'credential returned in clear');

        // Without the secure session (explicit password session, unsalted policy) the credential is
        // visible on the wire: the check above is not vacuous.
        const ps2 = await ekPolicySession(tpm);
        wire.log = [];
        assert.deepEqual(await tpm.activateCredential(ak.handle, ek.handle, made.credentialBlob, made.secret, { activateAuth: new PasswordSession(AK_PASSWORD), keyAuth: ps2 }), cred);
        assert.equal(leaks(wire.receivedBytes(), cred), true);
        assert.equal(leaks(wire.sentBytes(), Buffer.from(AK_PASSWORD)), true);
      });
    });
    await assertNothingLeft();
  });

  it('a sealed secret comes back from Unseal encrypted', async () => {
    await session(async (tpm, wire) => {
      await tpm.withTransient(async () => {
        const secret = randomBytes(48);
        const srk = await tpm.createPrimary(TPM_RH.OWNER, eccStorage());
        const blob = await tpm.create(srk.handle, sealed(), { sensitive: { data: secret } });
        const obj = await tpm.load(srk.handle, blob.outPrivate, blob.outPublic);
        assert.deepEqual(await tpm.unseal(obj.handle), secret);
        const s = await tpm.secureSession();
        assert.equal(parseCommand(wire.commands(TPM_CC.Create)[0]!.command).sessions[0]!.handle, s.handle);
        assert.equal(parseCommand(wire.commands(TPM_CC.Unseal)[0]!.command).sessions[0]!.attributes, ENC | CONT);
        assert.equal(leaks([...wire.sentBytes(), ...wire.receivedBytes()], secret), false);
      });
    });
    await assertNothingLeft();
  });

  it('quote, sign and PCR read stay on the password path: no session is started for them', async () => {
    await session(async (tpm, wire) => {
      await tpm.withTransient(async () => {
        const ak = await tpm.createPrimary(TPM_RH.OWNER, eccSigning(true));
        const key = await tpm.createPrimary(TPM_RH.OWNER, eccSigning());
        await tpm.quote(ak.handle, randomBytes(16), [{ hash: TPM_ALG.SHA256, pcrs: [0, 16] }]);
        await tpm.sign(key.handle, randomBytes(32));
        await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [16] }]);
      });
      assert.equal(wire.commands(TPM_CC.StartAuthSession).length, 0);
      assert.equal(tpm.secureSessionHandle, undefined);
      assert.equal(parseCommand(wire.commands(TPM_CC.Quote)[0]!.command).sessions[0]!.handle, TPM_RS_PW);
      assert.equal(parseCommand(wire.commands(TPM_CC.Sign)[0]!.command).sessions[0]!.handle, TPM_RS_PW);
    });
  });

  it('concurrent callers share one session start; an explicit session is used as given and starts none', async () => {
    await session(async (tpm, wire) => {
      await tpm.withTransient(async () => {
        const mine = await HmacSession.start(tpm, { auth: PASSWORD, aesBits: null });
        await tpm.nvWrite(NV_FLIP, Buffer.alloc(32, 1), { authorization: mine });
        assert.equal(parseCommand(wire.commands(TPM_CC.NV_Write)[0]!.command).sessions[0]!.handle, mine.handle);
      });
      assert.equal(wire.commands(TPM_CC.StartAuthSession).length, 1, 'only the explicit session was started');
      assert.equal(tpm.secureSessionHandle, undefined);
      wire.log = [];
      await Promise.all([
        tpm.nvWrite(NV_FLIP, Buffer.alloc(16, 2), { authorization: PASSWORD }),
        tpm.nvWrite(NV_FLIP, Buffer.alloc(16, 3), { authorization: PASSWORD, offset: 16 }),
        tpm.nvRead(NV_FLIP, { authorization: PASSWORD }),
      ]);
      assert.equal(wire.commands(TPM_CC.StartAuthSession).length, 1);
      assert.deepEqual(await tpm.nvRead(NV_FLIP, { authorization: PASSWORD }), Buffer.concat([Buffer.alloc(16, 2), Buffer.alloc(16, 3)]));
    });
    await assertNothingLeft();
  });
});

describe('tampering in transit', () => {
  it('one flipped bit anywhere in an NV_Read response (header, encrypted data, nonce, attributes, HMAC) gives a typed error and never wrong data', async () => {
    await session(async (tpm, wire) => {
      const secret = randomBytes(32);
      await tpm.nvWrite(NV_FLIP, secret, { authorization: PASSWORD });
      assert.deepEqual(await tpm.nvRead(NV_FLIP, { authorization: PASSWORD }), secret);
      const clean = wire.commands(TPM_CC.NV_Read).at(-1)!.response;
      // header 10 | parameterSize 4 | TPM2B size 2 | data 32 (encrypted) | nonce 2+32 | attributes 1 | HMAC 2+32
      assert.equal(clean.length, 10 + 4 + 2 + 32 + 2 + 32 + 1 + 2 + 32);
      for (let at = 0; at < clean.length; at++) {
        const bit = 1 << (at % 8);
        wire.alterResponse = { cc: TPM_CC.NV_Read, fn: (r) => { r[at]! ^= bit; } };
        await assert.rejects(tpm.nvRead(NV_FLIP, { authorization: PASSWORD }), (e: unknown) => {
          assert.ok(isResponseCheckFailure(e), `byte ${at}: ${String(e)}`);
          // Inside the encrypted data it is the response HMAC that catches it.
          if (at >= 16 && at < 48) assert.ok(e instanceof TPMResponseAuthError, `byte ${at}: ${String(e)}`);
          return true;
        });
        assert.equal(wire.alterResponse, undefined, 'the flip was applied');
        // An unaltered read right after works (on the same or on a new session) and returns the data.
        assert.deepEqual(await tpm.nvRead(NV_FLIP, { authorization: PASSWORD }), secret);
      }
      // Sessions dropped after a failed check were flushed: one session is loaded, no object.
      assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), tpm.secureSessionHandle === undefined ? [] : [tpm.secureSessionHandle]);
      assert.deepEqual(await tpm.handles(TPM_HT.TRANSIENT), []);
    });
    await assertNothingLeft();
  });

  it('flipped bits in NV_Write and ActivateCredential responses (incl. inside the encrypted credential) are detected', async () => {
    await session(async (tpm, wire) => {
      // NV_Write: header 10 | parameterSize 4 | nonce 2+32 | attributes 1 | HMAC 2+32.
      for (const at of [5, 13, 20, 48, 49, 60, 82]) {
        wire.alterResponse = { cc: TPM_CC.NV_Write, fn: (r) => { r[at]! ^= 0x02; } };
        await assert.rejects(tpm.nvWrite(NV_FLIP, randomBytes(32), { authorization: PASSWORD }), (e: unknown) => isResponseCheckFailure(e));
        assert.equal(wire.alterResponse, undefined);
      }
      await tpm.withTransient(async () => {
        const ek = await tpm.createPrimary(TPM_RH.ENDORSEMENT, ekLike());
        const ak = await tpm.createPrimary(TPM_RH.OWNER, eccSigning(true));
        const cred = randomBytes(32);
        const made = makeCredential(tpmPublicKey(ek.outPublic), ak.name, cred);
        // header 10 | parameterSize 4 | certInfo 2+32 (encrypted) | AK session: nonce 2+32, attrs 1, HMAC 2+32 | EK policy session: same.
        for (const at of [16, 31, 47, 50, 83, 85, 110, 150]) {
          const ps = await ekPolicySession(tpm);
          wire.alterResponse = { cc: TPM_CC.ActivateCredential, fn: (r) => { r[at]! ^= 0x40; } };
          await assert.rejects(tpm.activateCredential(ak.handle, ek.handle, made.credentialBlob, made.secret, { keyAuth: ps }), (e: unknown) => {
            assert.ok(isResponseCheckFailure(e), `byte ${at}: ${String(e)}`);
            if (at >= 16 && at < 48) assert.ok(e instanceof TPMResponseAuthError, `byte ${at} is in the encrypted credential`);
            return true;
          });
          assert.equal(wire.alterResponse, undefined);
        }
        const ps = await ekPolicySession(tpm);
        assert.deepEqual(await tpm.activateCredential(ak.handle, ek.handle, made.credentialBlob, made.secret, { keyAuth: ps }), cred);
      });
    });
    await assertNothingLeft();
  });

  it('a bit flipped in the encrypted data of an NV_Write command is refused by the TPM, and the index keeps its content', async () => {
    await session(async (tpm, wire) => {
      const before = randomBytes(32);
      await tpm.nvWrite(NV_FLIP, before, { authorization: PASSWORD });
      const s = await tpm.secureSession();
      wire.alterCommand = {
        cc: TPM_CC.NV_Write,
        fn: (c) => {
          const p = parseCommand(c);
          c[c.length - p.parameters.length + 2 + 5]! ^= 0x01; // 6th byte of the (encrypted) data
        },
      };
      await assert.rejects(tpm.nvWrite(NV_FLIP, randomBytes(32), { authorization: PASSWORD }), (e: unknown) =>
        e instanceof TPMError && (e.code === 'TPM_RC_AUTH_FAIL' || e.code === 'TPM_RC_BAD_AUTH') && e.info.session === 1);
      assert.equal(wire.alterCommand, undefined);
      // The TPM refused before running it: the session stays in step and is kept.
      assert.deepEqual(await tpm.nvRead(NV_FLIP, { authorization: PASSWORD }), before);
      assert.equal(tpm.secureSessionHandle, s.handle);
    });
    await assertNothingLeft();
  });
});

describe('salt key and session lifetime', () => {
  it('with an SRK at 0x81000001 the session is salted to it (no key is created); a pinned Name is enforced', async () => {
    let srkName!: Buffer;
    await session(async (tpm) => {
      const present = await tpm.readPublic(DEFAULT_SALT_KEY).then(() => true, () => false);
      if (!present) {
        await tpm.withTransient(async () => {
          const k = await tpm.createPrimary(TPM_RH.OWNER, saltKeyTemplate());
          await tpm.evictControl(TPM_RH.OWNER, k.handle, DEFAULT_SALT_KEY);
        });
        persistedSRK = true;
      }
      srkName = (await tpm.readPublic(DEFAULT_SALT_KEY)).name;
    });
    await session(async (tpm, wire) => {
      await tpm.nvWrite(NV_FLIP, randomBytes(32), { authorization: PASSWORD });
      const st = parseCommand(wire.commands(TPM_CC.StartAuthSession)[0]!.command);
      assert.equal(st.handles[0], DEFAULT_SALT_KEY);
      assert.equal(wire.commands(TPM_CC.CreatePrimary).length, 0);
      assert.deepEqual((await tpm.secureSession()).saltedTo?.name, srkName);
    });
    await session(async (tpm) => {
      await tpm.nvWrite(NV_FLIP, randomBytes(32), { authorization: PASSWORD });
    }, { secureSession: { saltKeyName: srkName } });
    const wrong = Buffer.from(srkName);
    wrong[wrong.length - 1]! ^= 1;
    await session(async (tpm, wire) => {
      await assert.rejects(tpm.nvWrite(NV_FLIP, randomBytes(32), { authorization: PASSWORD }), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_SALT_KEY_MISMATCH');
      assert.equal(wire.commands(TPM_CC.StartAuthSession).length, 0);
      assert.equal(wire.commands(TPM_CC.NV_Write).length, 0, 'nothing was written');
    }, { secureSession: { saltKeyName: wrong } });
    await session(async (tpm) => {
      await assert.rejects(tpm.nvWrite(NV_FLIP, randomBytes(32), { authorization: PASSWORD }), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_SALT_KEY_MISMATCH');
    }, { secureSession: { saltKey: 0x81000fff, saltKeyName: srkName } });
    if (persistedSRK) {
      await session(async (tpm) => { await tpm.evictControl(TPM_RH.OWNER, DEFAULT_SALT_KEY, DEFAULT_SALT_KEY); });
      persistedSRK = false;
    }
    await assertNothingLeft();
  });

  it('a session flushed behind the connection\'s back is replaced transparently; flushAll and close flush it', async () => {
    await session(async (tpm, wire) => {
      await tpm.nvWrite(NV_FLIP, Buffer.alloc(32, 5), { authorization: PASSWORD });
      const first = (await tpm.secureSession()).handle;
      // FlushContext framed by hand, so the connection's bookkeeping does not know.
      const raw = Buffer.alloc(14);
      raw.writeUInt16BE(0x8001, 0); raw.writeUInt32BE(14, 2); raw.writeUInt32BE(TPM_CC.FlushContext, 6); raw.writeUInt32BE(first, 10);
      assert.equal((await tpm.sendRaw(raw)).readUInt32BE(6), 0);
      assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), []);
      wire.log = [];
      await tpm.nvWrite(NV_FLIP, Buffer.alloc(32, 6), { authorization: PASSWORD });
      const writes = wire.commands(TPM_CC.NV_Write);
      assert.equal(writes.length, 2, 'refused once for the missing session, then sent again');
      assert.equal(writes[0]!.response.readUInt32BE(6) >>> 0 !== 0, true);
      assert.equal(wire.commands(TPM_CC.StartAuthSession).length, 1);
      assert.deepEqual(await tpm.nvRead(NV_FLIP, { authorization: PASSWORD }), Buffer.alloc(32, 6));
      const second = tpm.secureSessionHandle!;
      assert.ok(isSecureSessionHandle(second));
      await tpm.flushAll();
      assert.equal(tpm.secureSessionHandle, undefined);
      assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), []);
      await tpm.nvWrite(NV_FLIP, Buffer.alloc(32, 7), { authorization: PASSWORD });
      assert.equal(wire.commands(TPM_CC.StartAuthSession).length, 2);
    });
    await assertNothingLeft();
  });
});

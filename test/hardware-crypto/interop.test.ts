// hardware/crypto against a real TPM (swtpm) and tpm2-tools, with no use of hardware/'s TPM
// client: tpm2_activatecredential must accept our MakeCredential for RSA and ECC EKs; the TPM
// must accept our salted-session HMACs and parameter encryption, and we must verify its response
// HMACs; policy digests and Names must equal what the TPM computes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ByteReader, KDFe, TPMA_SESSION, TpmCryptoError, concat, parseCredentialFile, parseEccPointSecret, parseIdObject, ecdsaFromDer, encodeCredentialFile, encryptSalt, ekPolicyA, fromPem, handleName,
  makeCredential, nvName, objectName, policyAuthValue, policyCommandCode, policyOR, policyPassword, policySecret,
  toHex, tpm2b, u16, u32, verifyDigestSignature, wrapCredential, TPM_CC, TPM_RH_ENDORSEMENT, type TpmPublicKey,
} from '../../hardware/crypto/index.ts';
import { startToolsTpm, RawTpm, type ToolsTpm } from './toolstpm.ts';
import { parseTpm2bPublic } from './tpmpub.ts';
import { CC, TpmRcError, flush, runWithSession, startHmacSession } from './rawcmd.ts';

const EK_RSA = 0x81018001;
const EK_ECC = 0x81018002;
const NV = 0x01500017;
const NV_PASS = 'nv-secret-pass';
// TPMA_NV: AUTHWRITE | AUTHREAD | NO_DA (noDA: a bad HMAC here must never count towards lockout).
const NV_ATTRS = 0x00000004 | 0x00040000 | 0x02000000;
const TPMA_NV_WRITTEN = 0x20000000;

let t: ToolsTpm;
const eks = new Map<string, { handle: number; key: TpmPublicKey; authPolicy: Uint8Array; tpmtPublic: Uint8Array }>();
let akName: Uint8Array;

const f = (name: string) => join(t.dir, name);
const flushTransients = () => t.tool('tpm2_flushcontext', ['-t']);

before(async () => {
  t = await startToolsTpm();
  for (const [alg, handle] of [['rsa', EK_RSA], ['ecc', EK_ECC]] as const) {
    t.tool('tpm2_createek', ['-c', `0x${handle.toString(16)}`, '-G', alg, '-u', `ek-${alg}.pub`]);
    const p = parseTpm2bPublic(readFileSync(f(`ek-${alg}.pub`)));
    eks.set(alg, { handle, key: p.key, authPolicy: p.authPolicy, tpmtPublic: p.tpmtPublic });
  }
  // The AK: a restricted ECC P-256 signing key with noDA (tpm2_createak cannot set noDA).
  t.tool('tpm2_createprimary', ['-C', 'o', '-G', 'ecc256:ecdsa-sha256:null', '-g', 'sha256', '-c', 'ak.ctx',
    '-a', 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda']);
  t.tool('tpm2_readpublic', ['-c', 'ak.ctx', '-o', 'ak.pub', '-n', 'ak.name']);
  flushTransients();
  akName = new Uint8Array(readFileSync(f('ak.name')));
});

after(async () => {
  await t?.close();
});

function activate(ekHandle: number, credFile: string): { status: number; stderr: string; out?: Uint8Array } {
  t.tool('tpm2_startauthsession', ['--policy-session', '-S', 'session.ctx']);
  t.tool('tpm2_policysecret', ['-S', 'session.ctx', '-c', 'e']);
  const r = t.toolStatus('tpm2_activatecredential', ['-c', 'ak.ctx', '-C', `0x${ekHandle.toString(16)}`, '-i', credFile, '-o', 'actcred.out', '-P', 'session:session.ctx']);
  t.toolStatus('tpm2_flushcontext', ['session.ctx']);
  flushTransients();
  return r.status === 0 ? { ...r, out: new Uint8Array(readFileSync(f('actcred.out'))) } : r;
}

describe('MakeCredential interop with tpm2_activatecredential', () => {
  for (const alg of ['rsa', 'ecc'] as const) {
    test(`${alg} EK: tpm2_activatecredential recovers the credential from our tpm2-tools credential file`, () => {
      const ek = eks.get(alg)!;
      const credential = new Uint8Array(randomBytes(32));
      writeFileSync(f(`cred-${alg}.bin`), encodeCredentialFile(makeCredential(ek.key, akName, credential)));
      const r = activate(ek.handle, `cred-${alg}.bin`);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.out, credential);
    });

    test(`${alg} EK: the TPM refuses our credential made for another Name, and a tampered blob`, () => {
      const ek = eks.get(alg)!;
      const other = concat(akName.slice(0, 2), createHash('sha256').update('another key').digest());
      writeFileSync(f('cred-wrongname.bin'), encodeCredentialFile(makeCredential(ek.key, other, new Uint8Array(16).fill(7))));
      assert.notEqual(activate(ek.handle, 'cred-wrongname.bin').status, 0);
      const good = makeCredential(ek.key, akName, new Uint8Array(16).fill(9));
      const blob = good.credentialBlob.slice();
      blob[blob.length - 1]! ^= 0x01; // flip one bit of encIdentity: the outer HMAC must catch it
      writeFileSync(f('cred-tampered.bin'), encodeCredentialFile({ credentialBlob: blob, secret: good.secret }));
      assert.notEqual(activate(ek.handle, 'cred-tampered.bin').status, 0);
    });
  }
});

/**
 * What a credential file another tool made for one of the TPM's EKs must be: it parses, its
 * encrypted secret has the form that EK implies (parseCredentialFile with the EK: an ECC point's
 * coordinates may be SHORTER than 32 bytes, since a TPM2B_ECC_PARAMETER need not keep leading
 * zeros; tpm2-tools drops them, about one file in 128), the blob has our blob's size, and the TPM
 * activates it to `credential`.
 */
function checkForeignCredential(alg: string, ek: { handle: number; key: TpmPublicKey }, file: string, credential: Uint8Array): void {
  const theirs = parseCredentialFile(new Uint8Array(readFileSync(f(file))), ek.key);
  const ours = makeCredential(ek.key, akName, new Uint8Array(32));
  assert.equal(theirs.credentialBlob.length, ours.credentialBlob.length, alg);
  assert.equal(parseIdObject(theirs.credentialBlob, 'sha256').integrityHMAC.length, 32);
  if (ek.key.type === 'rsa') assert.equal(theirs.secret.length, ours.secret.length, alg);
  else {
    const p = parseEccPointSecret(ek.key.curve, theirs.secret);
    assert.ok(p.x.length <= 32 && p.y.length <= 32, alg);
  }
  const r = activate(ek.handle, file);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.out, credential);
}

/**
 * A credential file for the ECC EK whose ephemeral point has a coordinate one byte short (its
 * leading zero dropped), as tpm2_makecredential writes now and then: deterministic, so the short
 * form is tested every run. The ephemeral scalar is the first of sha256("short <which> <i>") whose
 * public point has a leading zero byte in that coordinate. The seed is KDFe over the x coordinate
 * exactly as sent, which is what the TPM uses.
 */
function shortCoordinateCredential(ek: TpmPublicKey, which: 'x' | 'y', credential: Uint8Array): Uint8Array {
  if (ek.type !== 'ecc') throw new Error('an ECC EK is needed');
  for (let i = 0; ; i++) {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(createHash('sha256').update(`short ${which} ${i}`).digest());
    const pub = ecdh.getPublicKey();
    const x = pub.subarray(1, 33);
    const y = pub.subarray(33, 65);
    if ((which === 'x' ? x : y)[0] !== 0) continue;
    const sentX = which === 'x' ? x.subarray(1) : x;
    const sentY = which === 'y' ? y.subarray(1) : y;
    const z = ecdh.computeSecret(Buffer.concat([Buffer.from([4]), ek.x, ek.y]));
    const seed = KDFe('sha256', z, 'IDENTITY', sentX, ek.x, 256);
    const credentialBlob = wrapCredential('sha256', { alg: 'aes', bits: 128 }, seed, akName, credential);
    return encodeCredentialFile({ credentialBlob, secret: concat(tpm2b(sentX), tpm2b(sentY)) });
  }
}

describe('tpm2_makecredential output for the TPM\'s EKs', () => {
  test('parses, and has the shape ours has (same blob size, same secret form; ECC ephemeral point on the curve)', () => {
    for (const [alg, ek] of eks) {
      writeFileSync(f('secret.bin'), randomBytes(32));
      t.tool('tpm2_makecredential', ['-T', 'none', '-e', `ek-${alg}.pub`, '-s', 'secret.bin', '-n', toHex(akName), '-o', `tools-cred-${alg}.bin`]);
      // And the TPM activates tpm2-tools' file as well as ours (same file format, same EK).
      checkForeignCredential(alg, ek, `tools-cred-${alg}.bin`, new Uint8Array(readFileSync(f('secret.bin'))));
    }
  });

  test('an ECC point coordinate of 31 bytes (leading zero dropped, as tpm2-tools writes it about once in 128) is accepted, by us and by the TPM', () => {
    const ek = eks.get('ecc')!;
    for (const which of ['x', 'y'] as const) {
      const credential = new Uint8Array(createHash('sha256').update(which).digest());
      const file = shortCoordinateCredential(ek.key, which, credential);
      writeFileSync(f(`short-${which}.bin`), file);
      const secret = parseCredentialFile(file).secret;
      assert.equal(secret.length, 2 + 31 + 2 + 32, which);
      checkForeignCredential(`ecc, short ${which}`, ek, `short-${which}.bin`, credential);
    }
    // The checked form still refuses what is not a point: a coordinate longer than the field, an
    // empty one, one off the curve.
    const good = parseCredentialFile(shortCoordinateCredential(ek.key, 'x', new Uint8Array(32).fill(1)));
    const rd = new ByteReader(good.secret, 'point');
    const x = rd.tpm2b('x', 32);
    const y = rd.tpm2b('y', 32);
    for (const secret of [concat(tpm2b(concat(new Uint8Array(2), x)), tpm2b(y)), concat(tpm2b(new Uint8Array(0)), tpm2b(y)), concat(tpm2b(x), tpm2b(y.map((b, i) => (i === 31 ? b ^ 1 : b))))]) {
      assert.throws(() => parseCredentialFile(encodeCredentialFile({ credentialBlob: good.credentialBlob, secret }), ek.key),
        (e: unknown) => e instanceof TpmCryptoError && e.code === 'TPM_CRYPTO_MALFORMED');
    }
  });
});

describe('Names, keys and policies agree with the TPM', () => {
  test('objectName over TPMT_PUBLIC equals the Names tpm2-tools reports for the AK and both EKs', () => {
    const akPub = parseTpm2bPublic(readFileSync(f('ak.pub')));
    assert.equal(toHex(objectName(akPub.tpmtPublic)), toHex(akName));
    for (const [alg, ek] of eks) {
      t.tool('tpm2_readpublic', ['-c', `0x${ek.handle.toString(16)}`, '-n', `ek-${alg}.name`]);
      assert.equal(toHex(objectName(ek.tpmtPublic)), toHex(readFileSync(f(`ek-${alg}.name`))), alg);
    }
  });

  test('the EKs carry the EK-profile policy we compute (PolicySecret(TPM_RH_ENDORSEMENT))', () => {
    for (const ek of eks.values()) assert.equal(toHex(ek.authPolicy), toHex(ekPolicyA('sha256')));
  });

  test('PEM from tpm2_readpublic converts to the same key bytes as the TPM2B_PUBLIC', () => {
    for (const [alg, ek] of eks) {
      t.tool('tpm2_readpublic', ['-c', `0x${ek.handle.toString(16)}`, '-f', 'pem', '-o', `ek-${alg}.pem`]);
      const k = fromPem(readFileSync(f(`ek-${alg}.pem`), 'utf8'));
      if (k.type === 'rsa' && ek.key.type === 'rsa') {
        assert.equal(toHex(k.n), toHex(ek.key.n));
        assert.equal(k.e, ek.key.e === 0 ? 65537 : ek.key.e);
      } else if (k.type === 'ecc' && ek.key.type === 'ecc') {
        assert.equal(k.curve, ek.key.curve);
        assert.equal(toHex(k.x), toHex(ek.key.x));
        assert.equal(toHex(k.y), toHex(ek.key.y));
      } else assert.fail(`key type mismatch for ${alg}`);
    }
  });

  test('policy digests equal those of TPM trial sessions', () => {
    const trial = (steps: Array<[string, string[]]>, out: string): string => {
      t.tool('tpm2_startauthsession', ['-S', 'trial.ctx']);
      try {
        steps.forEach(([cmd, args], i) => t.tool(cmd, ['-S', 'trial.ctx', ...(i === steps.length - 1 ? ['-L', out] : []), ...args]));
      } finally {
        t.toolStatus('tpm2_flushcontext', ['trial.ctx']);
      }
      return toHex(readFileSync(f(out)));
    };
    const cc = policyCommandCode('sha256', TPM_CC.ActivateCredential);
    assert.equal(trial([['tpm2_policycommandcode', ['TPM2_CC_ActivateCredential']]], 'p1.bin'), toHex(cc));
    assert.equal(trial([['tpm2_policycommandcode', ['TPM2_CC_ActivateCredential']], ['tpm2_policyauthvalue', []]], 'p2.bin'), toHex(policyAuthValue('sha256', cc)));
    assert.equal(trial([['tpm2_policypassword', []]], 'p3.bin'), toHex(policyPassword('sha256')));
    assert.equal(trial([['tpm2_policysecret', ['-c', 'e']]], 'p4.bin'), toHex(policySecret('sha256', handleName(TPM_RH_ENDORSEMENT))));
    assert.equal(trial([['tpm2_policysecret', ['-c', 'o', '-q', Buffer.from('abcdeeee').toString('hex')]]], 'p5.bin'),
      toHex(policySecret('sha256', handleName(0x40000001), new Uint8Array(Buffer.from('abcdeeee')))));
    const or = trial([['tpm2_policyor', ['-l', `sha256:${f('p1.bin')},${f('p2.bin')},${f('p4.bin')}`]]], 'p6.bin');
    assert.equal(or, toHex(policyOR('sha256', ['p1.bin', 'p2.bin', 'p4.bin'].map((n) => new Uint8Array(readFileSync(f(n)))))));
  });
});

describe('salted HMAC sessions against the TPM', () => {
  for (const alg of ['rsa', 'ecc'] as const) {
    test(`${alg} salt: the TPM accepts our command HMACs and CFB encryption, we verify its response HMACs`, async () => {
      const ek = eks.get(alg)!;
      const tpm = new RawTpm(t.swtpm.port);
      await tpm.open();
      try {
        const { salt, encryptedSalt } = encryptSalt(ek.key);
        const s = await startHmacSession(tpm, { tpmKey: ek.handle, salt, encryptedSalt, hashAlg: 'sha256' });
        try {
          // Authorization HMAC (PCR 16 has an empty authValue): the TPM checks ours, we check its.
          const digest = new Uint8Array(randomBytes(32));
          await runWithSession(tpm, s, CC.PCR_Extend, [16], {
            names: [handleName(16)], authValue: new Uint8Array(0), attrs: TPMA_SESSION.continueSession,
            restParams: concat(u32(1), u16(0x000b), digest),
          });
          // Parameter encryption both ways: TPM2_Hash of data we encrypted; the digest comes back encrypted.
          const data = new Uint8Array(randomBytes(77));
          const r = await runWithSession(tpm, s, CC.Hash, [], {
            names: [], attrs: TPMA_SESSION.continueSession | TPMA_SESSION.decrypt | TPMA_SESSION.encrypt,
            firstParam: data, restParams: concat(u16(0x000b), u32(0x40000007)), encryptedResponse: true,
          });
          assert.deepEqual(r.firstParamPlain, new Uint8Array(createHash('sha256').update(data).digest()));
          // A response altered in transit fails the HMAC check with a typed error.
          await assert.rejects(runWithSession(tpm, s, CC.PCR_Extend, [16], {
            names: [handleName(16)], authValue: new Uint8Array(0), attrs: TPMA_SESSION.continueSession,
            restParams: concat(u32(1), u16(0x000b), digest), tamper: (rsp) => { rsp[rsp.length - 3]! ^= 0x10; },
          }), (e: unknown) => e instanceof TpmCryptoError && e.code === 'TPM_CRYPTO_INTEGRITY');
        } finally {
          await flush(tpm, s.handle);
        }
      } finally {
        tpm.close();
      }
    });
  }

  test('authValue rules: unbound session includes the NV authValue; bound session leaves it out of the HMAC but not the CFB key', async () => {
    t.tool('tpm2_nvdefine', [`0x${NV.toString(16)}`, '-C', 'o', '-s', '32', '-a', 'authread|authwrite|no_da', '-p', NV_PASS]);
    const auth = new Uint8Array(Buffer.from(NV_PASS));
    const ek = eks.get('ecc')!;
    const pub = { nvIndex: NV, nameAlg: 'sha256' as const, attributes: NV_ATTRS, authPolicy: new Uint8Array(0), dataSize: 32 };
    t.tool('tpm2_nvreadpublic', [`0x${NV.toString(16)}`]); // must exist
    const tpm = new RawTpm(t.swtpm.port);
    await tpm.open();
    try {
      const payload = new Uint8Array(randomBytes(32));
      // Unbound, salted: HMAC key and CFB key are sessionKey ‖ authValue.
      let { salt, encryptedSalt } = encryptSalt(ek.key);
      const s1 = await startHmacSession(tpm, { tpmKey: ek.handle, salt, encryptedSalt, hashAlg: 'sha256' });
      try {
        const name0 = nvName(pub);
        await runWithSession(tpm, s1, CC.NV_Write, [NV, NV], {
          names: [name0, name0], authValue: auth, attrs: TPMA_SESSION.continueSession | TPMA_SESSION.decrypt,
          firstParam: payload, restParams: u16(0),
        });
        // A wrong authValue is refused by the TPM (NO_DA index, so no lockout).
        await assert.rejects(runWithSession(tpm, s1, CC.NV_Read, [NV, NV], {
          names: [nvName({ ...pub, attributes: pub.attributes | TPMA_NV_WRITTEN })], authValue: new Uint8Array(Buffer.from('wrong')),
          attrs: TPMA_SESSION.continueSession, restParams: concat(u16(32), u16(0)),
        }), (e: unknown) => e instanceof TpmRcError && e.rc === 0x9a2 /* TPM_RC_BAD_AUTH, session 1: no DA on this index */);
      } finally {
        await flush(tpm, s1.handle).catch(() => { /* a failed auth already ended the session */ });
      }
      // Bound to the NV index, salted: sessionKey carries authValue; authorizing the bind entity leaves it out of the HMAC key.
      ({ salt, encryptedSalt } = encryptSalt(ek.key));
      const s2 = await startHmacSession(tpm, { tpmKey: ek.handle, salt, encryptedSalt, hashAlg: 'sha256', bind: NV, bindAuth: auth });
      try {
        const name1 = nvName({ ...pub, attributes: pub.attributes | TPMA_NV_WRITTEN });
        const r = await runWithSession(tpm, s2, CC.NV_Read, [NV, NV], {
          names: [name1, name1], authValue: auth, boundToEntity: true, attrs: TPMA_SESSION.continueSession | TPMA_SESSION.encrypt,
          restParams: concat(u16(32), u16(0)), encryptedResponse: true,
        });
        assert.deepEqual(r.firstParamPlain, payload);
      } finally {
        await flush(tpm, s2.handle);
      }
    } finally {
      tpm.close();
    }
    const out = t.tool('tpm2_nvreadpublic', [`0x${NV.toString(16)}`]);
    assert.match(out, new RegExp(`name: ${toHex(nvName({ ...pub, attributes: pub.attributes | TPMA_NV_WRITTEN }))}`, 'i'));
    t.tool('tpm2_nvundefine', [`0x${NV.toString(16)}`, '-C', 'o']);
  });
});

describe('signatures made by the TPM verify over their digest', () => {
  test('ECDSA (restricted AK, tpm2_sign) verifies in both TPMT_SIGNATURE and DER form; other digests fail', () => {
    const ak = parseTpm2bPublic(readFileSync(f('ak.pub'))).key;
    const msg = new Uint8Array(randomBytes(100));
    msg[0] = 0x00; // never TPM_GENERATED_VALUE
    writeFileSync(f('msg.bin'), msg);
    t.tool('tpm2_sign', ['-c', 'ak.ctx', '-g', 'sha256', '-o', 'sig.tpmt', 'msg.bin']);
    flushTransients();
    t.tool('tpm2_sign', ['-c', 'ak.ctx', '-g', 'sha256', '-f', 'plain', '-o', 'sig.der', 'msg.bin']);
    flushTransients();
    const digest = new Uint8Array(createHash('sha256').update(msg).digest());
    const tpmt = new Uint8Array(readFileSync(f('sig.tpmt')));
    assert.equal((tpmt[0]! << 8) | tpmt[1]!, 0x0018); // TPM_ALG_ECDSA
    const rLen = (tpmt[4]! << 8) | tpmt[5]!;
    const r = tpmt.slice(6, 6 + rLen);
    const s = tpmt.slice(8 + rLen, 8 + rLen + ((tpmt[6 + rLen]! << 8) | tpmt[7 + rLen]!));
    assert.equal(verifyDigestSignature(ak, digest, { scheme: 'ecdsa', hashAlg: 'sha256', r, s }), true);
    const der = ecdsaFromDer(new Uint8Array(readFileSync(f('sig.der'))), 'P-256');
    assert.equal(verifyDigestSignature(ak, digest, { scheme: 'ecdsa', hashAlg: 'sha256', ...der }), true);
    const other = digest.slice();
    other[5]! ^= 1;
    assert.equal(verifyDigestSignature(ak, other, { scheme: 'ecdsa', hashAlg: 'sha256', r, s }), false);
  });

  test('RSASSA and RSAPSS (tpm2_sign with an RSA key) verify; other digests fail', () => {
    t.tool('tpm2_createprimary', ['-C', 'o', '-G', 'rsa2048:null:null', '-g', 'sha256', '-c', 'rsa.ctx',
      '-a', 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|noda']);
    flushTransients();
    t.tool('tpm2_readpublic', ['-c', 'rsa.ctx', '-o', 'rsa.pub']);
    flushTransients();
    const key = parseTpm2bPublic(readFileSync(f('rsa.pub'))).key;
    const msg = new Uint8Array(randomBytes(64));
    writeFileSync(f('msg2.bin'), msg);
    const digest = new Uint8Array(createHash('sha384').update(msg).digest());
    for (const scheme of ['rsassa', 'rsapss'] as const) {
      t.tool('tpm2_sign', ['-c', 'rsa.ctx', '-g', 'sha384', '-s', scheme, '-f', 'plain', '-o', `sig-${scheme}.bin`, 'msg2.bin']);
      flushTransients();
      const sig = new Uint8Array(readFileSync(f(`sig-${scheme}.bin`)));
      assert.equal(verifyDigestSignature(key, digest, { scheme, hashAlg: 'sha384', sig }), true, scheme);
      const other = digest.slice();
      other[0]! ^= 0x80;
      assert.equal(verifyDigestSignature(key, other, { scheme, hashAlg: 'sha384', sig }), false, scheme);
    }
    flushTransients();
  });
});

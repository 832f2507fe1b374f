// The generic marshaller on spec structures, its strictness on hostile bytes, and TPM URIs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  marshal, unmarshal, TPMMarshalError, TPMUsageError, TPMTransportError, TollgateError, parseTPMURI, resolveTPMURI, pcrSelection, selectedPCRs,
  TPMTPublic, TPM2BPublic, TPMSAttest, TPMTSignature, TPMLPCRSelection, TPMSCapabilityData, TPMSNVPublic, TPMTHA, TPMTSymDef,
  TPM_ALG, TPM_ST, TPM_CAP, TPM_GENERATED_VALUE, TPM_ECC, TPMA_OBJECT,
} from '../../hardware/index.ts';

const eccPub: TPMTPublic = {
  type: TPM_ALG.ECC, nameAlg: TPM_ALG.SHA256, objectAttributes: TPMA_OBJECT.sign | TPMA_OBJECT.fixedTPM, authPolicy: Buffer.alloc(0),
  parameters: { symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null }, scheme: { scheme: TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } }, curveID: TPM_ECC.NIST_P256, kdf: { scheme: TPM_ALG.NULL, details: null } },
  unique: { x: Buffer.alloc(32, 1), y: Buffer.alloc(32, 2) },
};

function malformed(e: unknown): boolean {
  return e instanceof TPMMarshalError && e.code === 'TPM_MALFORMED_RESPONSE' && e.errorClass === 'environment';
}

describe('marshal/unmarshal', () => {
  it('TPMT_PUBLIC (ECC) has the spec layout and round-trips', () => {
    const b = marshal(TPMTPublic, eccPub);
    assert.equal(b.toString('hex', 0, 10), '0023000b0004000200' + '00');
    assert.equal(b.length, 2 + 2 + 4 + 2 + 2 + 4 + 2 + 2 + (2 + 32) * 2);
    assert.deepEqual(unmarshal(TPMTPublic, b), { ...eccPub, unique: { x: Buffer.alloc(32, 1), y: Buffer.alloc(32, 2) } });
    const sized = marshal(TPM2BPublic, eccPub);
    assert.equal(sized.readUInt16BE(0), b.length);
  });

  it('a TPMS_ATTEST quote round-trips, and the union follows the type tag', () => {
    const a: TPMSAttest = {
      magic: TPM_GENERATED_VALUE, type: TPM_ST.ATTEST_QUOTE, qualifiedSigner: Buffer.alloc(34, 3), extraData: Buffer.from('nonce'),
      clockInfo: { clock: 123456789n, resetCount: 1, restartCount: 2, safe: 1 }, firmwareVersion: 0x1122334455667788n,
      attested: { pcrSelect: pcrSelection([{ hash: TPM_ALG.SHA256, pcrs: [0, 7, 16] }]), pcrDigest: Buffer.alloc(32, 9) },
    };
    assert.deepEqual(unmarshal(TPMSAttest, marshal(TPMSAttest, a)), a);
    const bad = marshal(TPMSAttest, a);
    bad.writeUInt16BE(0x8099, 4); // unknown TPMI_ST_ATTEST
    assert.throws(() => unmarshal(TPMSAttest, bad), malformed);
  });

  it('TPMT_SIGNATURE variants and TPMT_HA sizes', () => {
    for (const s of [
      { sigAlg: TPM_ALG.ECDSA, signature: { hash: TPM_ALG.SHA256, signatureR: Buffer.alloc(32, 1), signatureS: Buffer.alloc(32, 2) } },
      { sigAlg: TPM_ALG.RSASSA, signature: { hash: TPM_ALG.SHA256, sig: Buffer.alloc(256, 5) } },
      { sigAlg: TPM_ALG.RSAPSS, signature: { hash: TPM_ALG.SHA384, sig: Buffer.alloc(256, 6) } },
      { sigAlg: TPM_ALG.NULL, signature: null },
    ] as TPMTSignature[]) assert.deepEqual(unmarshal(TPMTSignature, marshal(TPMTSignature, s)), s);
    assert.equal(marshal(TPMTSignature, { sigAlg: TPM_ALG.NULL, signature: null }).toString('hex'), '0010');
    assert.throws(() => marshal(TPMTHA, { hashAlg: TPM_ALG.SHA256, digest: Buffer.alloc(20) }), (e: unknown) => e instanceof TPMMarshalError && e.code === 'TPM_BAD_VALUE' && e.errorClass === 'usage');
    assert.throws(() => unmarshal(TPMTHA, Buffer.from('000b' + '00'.repeat(20), 'hex')), malformed);
    assert.equal(marshal(TPMTSymDef, { algorithm: TPM_ALG.XOR, keyBits: TPM_ALG.SHA256, mode: null }).toString('hex'), '000a000b');
  });

  it('capability data, NV public and PCR selections', () => {
    const cap: TPMSCapabilityData = { capability: TPM_CAP.TPM_PROPERTIES, data: [{ property: 0x105, value: 0x49424d00 }] };
    assert.deepEqual(unmarshal(TPMSCapabilityData, marshal(TPMSCapabilityData, cap)), cap);
    const nv: TPMSNVPublic = { nvIndex: 0x01500000, nameAlg: TPM_ALG.SHA256, attributes: 0x2000a, authPolicy: new Uint8Array(0), dataSize: 32 };
    assert.equal(marshal(TPMSNVPublic, nv).toString('hex'), '01500000000b0002000a00000020');
    const sel = pcrSelection([{ hash: TPM_ALG.SHA256, pcrs: [0, 1, 16, 23] }, { hash: TPM_ALG.SHA1, pcrs: [] }]);
    assert.equal(marshal(TPMLPCRSelection, sel).toString('hex'), '00000002' + '000b' + '03' + '030081' + '0004' + '03' + '000000');
    assert.deepEqual(selectedPCRs(sel[0]!), [0, 1, 16, 23]);
    assert.throws(() => pcrSelection([{ hash: TPM_ALG.SHA256, pcrs: [1.5] }]), TPMUsageError);
  });

  it('hostile bytes give TPM_MALFORMED_RESPONSE: truncation, oversize, trailing bytes, bad selectors, huge counts', () => {
    const b = marshal(TPMTPublic, eccPub);
    for (let n = 0; n < b.length; n++) assert.throws(() => unmarshal(TPMTPublic, b.subarray(0, n)), malformed, `truncated at ${n}`);
    assert.throws(() => unmarshal(TPMTPublic, Buffer.concat([b, Buffer.from([0])])), malformed);
    const badType = Buffer.from(b); badType.writeUInt16BE(0x0099, 0);
    assert.throws(() => unmarshal(TPMTPublic, badType), malformed);
    const bigX = Buffer.from(b); bigX.writeUInt16BE(0xffff, b.length - 2 * 34);
    assert.throws(() => unmarshal(TPMTPublic, bigX), malformed);
    // A TPM2B_PUBLIC whose size disagrees with its content.
    const s = marshal(TPM2BPublic, eccPub);
    const short = Buffer.from(s); short.writeUInt16BE(s.length - 3, 0);
    assert.throws(() => unmarshal(TPM2BPublic, short), malformed);
    assert.throws(() => unmarshal(TPM2BPublic, Buffer.from('0000', 'hex')), malformed, 'an empty TPM2B_PUBLIC');
    // A list claiming four billion entries fails on its maximum, before reading.
    assert.throws(() => unmarshal(TPMLPCRSelection, Buffer.from('ffffffff', 'hex')), malformed);
    assert.throws(() => unmarshal(TPMLPCRSelection, Buffer.from('00000001000b09' + 'ff'.repeat(9), 'hex')), malformed, 'sizeofSelect over the maximum');
    assert.throws(() => unmarshal(TPMSAttest, Buffer.alloc(0)), malformed);
    // yes/no fields take only 0 or 1.
    const clock = Buffer.from('00000000000000010000000000000000' + '02', 'hex');
    assert.throws(() => unmarshal(TPMSAttest.fields.clockInfo, clock), malformed);
  });

  it('encoding refuses values that do not fit, as usage errors', () => {
    const bad = (e: unknown) => e instanceof TPMMarshalError && e.code === 'TPM_BAD_VALUE' && e.errorClass === 'usage';
    assert.throws(() => marshal(TPMSNVPublic, { nvIndex: 2 ** 32, nameAlg: 0, attributes: 0, authPolicy: new Uint8Array(0), dataSize: 0 }), bad);
    assert.throws(() => marshal(TPMSNVPublic, { nvIndex: 1, nameAlg: -1, attributes: 0, authPolicy: new Uint8Array(0), dataSize: 0 }), bad);
    assert.throws(() => marshal(TPMSNVPublic, { nvIndex: 1, nameAlg: 0, attributes: 0, authPolicy: new Uint8Array(65), dataSize: 0 }), bad);
    assert.throws(() => marshal(TPMTPublic, { ...eccPub, type: 0x99 }), bad);
    assert.throws(() => marshal(TPMSNVPublic, null as unknown as TPMSNVPublic), bad);
  });
});

describe('TPM URIs', () => {
  it('parses swtpm and device URIs, with the control port defaulting to PORT+1', () => {
    assert.deepEqual(parseTPMURI('swtpm:127.0.0.1:2321'), { kind: 'swtpm', host: '127.0.0.1', port: 2321, ctrlPort: 2322, uri: 'swtpm:127.0.0.1:2321:2322' });
    assert.deepEqual(parseTPMURI('swtpm:localhost:2321:9999'), { kind: 'swtpm', host: 'localhost', port: 2321, ctrlPort: 9999, uri: 'swtpm:localhost:2321:9999' });
    assert.equal(parseTPMURI('swtpm:[::1]:2321').uri, 'swtpm:[::1]:2321:2322');
    assert.deepEqual(parseTPMURI('device:/dev/tpmrm0'), { kind: 'device', path: '/dev/tpmrm0', uri: 'device:/dev/tpmrm0' });
  });

  it('an unknown or malformed URI is a usage error (exit 2) that lists the accepted forms', () => {
    for (const bad of ['', 'mssim:1.2.3.4:2321', 'swtpm:', 'swtpm:host', 'swtpm:host:port', 'swtpm:host:0', 'swtpm:host:70000', 'swtpm:host:1:2:3', 'device:relative', '/dev/tpmrm0', 'swtpm:ho st:1', 'swtpm:h:65535']) {
      assert.throws(() => parseTPMURI(bad), (e: unknown) => {
        assert.ok(e instanceof TPMUsageError, bad);
        assert.equal(e.code, 'TPM_URI_INVALID');
        assert.equal(e.exitCode, 2);
        assert.match(e.message, /swtpm:HOST:PORT/);
        assert.match(e.message, /device:\/dev\/tpmrm0/);
        return true;
      });
    }
  });

  it('chooses --tpm, then TOLLGATE_TPM, then /dev/tpmrm0 if it exists, else says how to choose', () => {
    const yes = () => true;
    const no = () => false;
    assert.equal(resolveTPMURI('swtpm:h:1', { TOLLGATE_TPM: 'swtpm:e:2' }, yes).uri, 'swtpm:h:1:2');
    assert.equal(resolveTPMURI(undefined, { TOLLGATE_TPM: 'swtpm:e:2' }, yes).uri, 'swtpm:e:2:3');
    assert.equal(resolveTPMURI(undefined, {}, yes).uri, 'device:/dev/tpmrm0');
    assert.equal(resolveTPMURI(undefined, { TOLLGATE_TPM: '' }, yes).uri, 'device:/dev/tpmrm0');
    assert.throws(() => resolveTPMURI(undefined, {}, no), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_NOT_FOUND' && e.exitCode === 3 && /--tpm/.test(e.message) && /TOLLGATE_TPM/.test(e.message));
    assert.throws(() => resolveTPMURI('nonsense', {}, yes), (e: unknown) => e instanceof TollgateError && e.code === 'TPM_URI_INVALID');
    assert.throws(() => resolveTPMURI(undefined, { TOLLGATE_TPM: 'nonsense' }, yes), TPMUsageError);
  });
});

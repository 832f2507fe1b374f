// KDFa / KDFe known answers: the TPM reference code's own self-test vector (libtpms, which swtpm
// runs) and the go-tpm/simulator-validated vectors of chrisfenner/tpm-test-vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KDFa, KDFe, TpmCryptoError, fromHex, hashAlgFromId, toHex } from '../../hardware/crypto/index.ts';
import { loadVectors } from './vectors.ts';

interface KdfaVector { Name: string; HashAlg: number; Key: string; Label: string; ContextU: string; ContextV: string; Bits: number; Result: string }
/** Label is KDFe's Use; ContextU / ContextV are PartyUInfo / PartyVInfo. */
interface KdfeVector { Name: string; HashAlg: number; Z: string; Label: string; ContextU: string; ContextV: string; Bits: number; Result: string }

test('KDFa reproduces the TPM self-test vector (KdfTestData.h) for every hash', () => {
  const key = fromHex('271fa08bbdc5060ec3dfa928ff9b73123a12da0c');
  const u = fromHex('ce244f395dca7391');
  const v = fromHex('da504031ddf12e83');
  const expected = {
    sha1: '55b5a7184aa07423c47dae766c26a2377d7cf851',
    sha256: 'bb0259e1c8ba607e6a2cd704b69a902e9ade84c4',
    sha384: '1dce70c9113eb2dba47bd9cfc72bf46f45b09312',
    sha512: '8be2c1b85b78569b9fa759f5857c56d684810fd3',
  } as const;
  for (const [alg, out] of Object.entries(expected)) {
    assert.equal(toHex(KDFa(alg as keyof typeof expected, key, 'KDFSELFTESTLABEL', u, v, 160)), out, alg);
    // The label given with its NUL already is the same label.
    assert.equal(toHex(KDFa(alg as keyof typeof expected, key, 'KDFSELFTESTLABEL\0', u, v, 160)), out, alg);
  }
});

test('KDFa matches every published vector (odd bit lengths included)', () => {
  const vs = loadVectors<KdfaVector>('kdfa.json');
  for (const v of vs) {
    const alg = hashAlgFromId(v.HashAlg);
    assert.ok(alg, v.Name);
    assert.equal(toHex(KDFa(alg, fromHex(v.Key), v.Label, fromHex(v.ContextU), fromHex(v.ContextV), v.Bits)), v.Result, v.Name);
  }
  assert.ok(vs.length >= 90);
});

test('KDFe matches every published vector', () => {
  const vs = loadVectors<KdfeVector>('kdfe.json');
  for (const v of vs) {
    const alg = hashAlgFromId(v.HashAlg);
    assert.ok(alg, v.Name);
    assert.equal(toHex(KDFe(alg, fromHex(v.Z), v.Label, fromHex(v.ContextU), fromHex(v.ContextV), v.Bits)), v.Result, v.Name);
  }
  assert.ok(vs.length >= 90);
});

test('KDFs refuse output sizes and hashes they cannot mean, with typed errors', () => {
  const k = new Uint8Array(8);
  for (const bits of [-8, 1.5, 2 ** 21, Number.NaN]) {
    assert.throws(() => KDFa('sha256', k, 'X', k, k, bits), (e: unknown) => e instanceof TpmCryptoError && e.code === 'TPM_CRYPTO_INVALID_ARGUMENT');
    assert.throws(() => KDFe('sha256', k, 'X', k, k, bits), (e: unknown) => e instanceof TpmCryptoError && e.code === 'TPM_CRYPTO_INVALID_ARGUMENT');
  }
  assert.throws(() => KDFa('md5' as never, k, 'X', k, k, 128), (e: unknown) => e instanceof TpmCryptoError && e.code === 'TPM_CRYPTO_UNSUPPORTED_ALG');
});

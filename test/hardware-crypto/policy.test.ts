// Policy digests: the TCG EK Credential Profile values computed from their definitions must equal
// the published constants; argument errors are typed. (TPM trial sessions agree: interop.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EK_POLICY_PUBLISHED, TpmCryptoError, ekPolicyA, ekPolicyB, ekPolicyC, ekPolicyIndexName, handleName, policyAuthValue,
  policyAuthorizeNV, policyCommandCode, policyOR, policyPassword, policySecret, toHex,
} from '../../hardware/crypto/index.ts';

const isCode = (code: string) => (e: unknown) => e instanceof TpmCryptoError && e.code === code;

test('low-range EK policy (sha256) is PolicySecret(TPM_RH_ENDORSEMENT) = 837197…69aa', () => {
  assert.equal(toHex(ekPolicyA('sha256')), '837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa');
});

test('EK profile B.8: PolicyA, policy index Names, PolicyC and PolicyB for sha256/384/512 equal the published values', () => {
  for (const alg of ['sha256', 'sha384', 'sha512'] as const) {
    assert.equal(toHex(ekPolicyA(alg)), EK_POLICY_PUBLISHED.policyA[alg], `A ${alg}`);
    assert.equal(toHex(ekPolicyIndexName(alg)), EK_POLICY_PUBLISHED.policyIndexName[alg], `index name ${alg}`);
    assert.equal(toHex(ekPolicyC(alg)), EK_POLICY_PUBLISHED.policyC[alg], `C ${alg}`);
    assert.equal(toHex(ekPolicyB(alg)), EK_POLICY_PUBLISHED.policyB[alg], `B ${alg}`);
  }
  assert.throws(() => ekPolicyA('sha1'), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
});

test('PolicyPassword and PolicyAuthValue give the same digest; chains depend on order', () => {
  assert.equal(toHex(policyPassword('sha256')), toHex(policyAuthValue('sha256')));
  const a = policyAuthValue('sha256', policyCommandCode('sha256', 0x147));
  const b = policyCommandCode('sha256', 0x147, policyAuthValue('sha256'));
  assert.notEqual(toHex(a), toHex(b));
  assert.notEqual(toHex(policySecret('sha256', handleName(0x4000000b), new Uint8Array([1]))), toHex(ekPolicyA('sha256')));
});

test('policy functions refuse malformed arguments with typed errors', () => {
  const d = ekPolicyA('sha256');
  assert.throws(() => policyOR('sha256', [d]), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => policyOR('sha256', Array(9).fill(d)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => policyOR('sha256', [d, d.slice(1)]), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => policyOR('sha384', [d, d]), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => policyCommandCode('sha256', 0x147, d.slice(0, 31)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => policyCommandCode('sha256', 2 ** 32), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => policySecret('sha256', new Uint8Array(3)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => policySecret('sha256', handleName(1), new Uint8Array(33)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => policyAuthorizeNV('sha256', new Uint8Array(67)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
});

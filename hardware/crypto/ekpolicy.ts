// EK authorization policies of the TCG EK Credential Profile for TPM 2.0 (v2.4+/2.5, Annex B
// "EK Templates" and §B.8 "EK Policies"), computed from their definitions:
//   PolicyA = PolicySecret(TPM_RH_ENDORSEMENT)                              (B.8.2) — low-range authPolicy
//   PolicyC = PolicyAuthorizeNV(Name of the EK policy NV index 0x01C07F01/2/3) (B.8.3, B.8.4)
//   PolicyB = PolicyOR(PolicyA, PolicyC)                                     (B.8.5) — high-range authPolicy
// The policy NV index (Table "Policy Index Names"): nameAlg = the hash, attributes 0x220F1008
// (POLICYWRITE|WRITEALL|PPREAD|OWNERREAD|AUTHREAD|POLICYREAD|NO_DA|WRITTEN), authPolicy = PolicyA,
// dataSize = sizeof(TPMT_HA) for that hash. The published values are kept below so tests can show
// the computation reproduces them.
import { handleName, nvName } from './name.ts';
import { policyAuthorizeNV, policyOR, policySecret } from './policy.ts';
import { digestSize, type HashAlg } from './hash.ts';
import { invalidArgument } from './errors.ts';

export const TPM_RH_ENDORSEMENT = 0x4000000b;

export type EkPolicyHash = 'sha256' | 'sha384' | 'sha512';

export const EK_POLICY_NV_INDEX: Readonly<Record<EkPolicyHash, number>> = { sha256: 0x01c07f01, sha384: 0x01c07f02, sha512: 0x01c07f03 };
export const EK_POLICY_NV_ATTRIBUTES = 0x220f1008;

/** Values as published in the EK Credential Profile (B.8) and reproduced by the IBM TSS regression tests. */
export const EK_POLICY_PUBLISHED = {
  policyA: {
    sha256: '837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa',
    sha384: '8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e143e8bb1133824ccb431053871c6db53',
    sha512: '1e3b76502c8a1425aa0b7b3fc646a1b0fae063b03b5368f9c4cddecaff0891dd682bac1a85d4d832b781ea451915de5fc5bf0dc4a1917cd42fa041e3f998e0ee',
  },
  policyIndexName: {
    sha256: '000b0c9d717e9c3fe69fda41769450bb145957f8b3610e084dbf65591a5d11ecd83f',
    sha384: '000cdb62fca346612c976732ff4e8621fb4e858be82586486504f7d02e621f8d7d61ae32cfc60c4d120609ed6768afcf090c',
    sha512: '000d1c47c0bbcbd3cf7d7cae6987d31937c171015dde3b7f0d3c869bca1f7e8a223b9acfadb49b7c9cf14d450f41e9327de34d9291eece2c58ab1dc10e9059cce560',
  },
  policyC: {
    sha256: '3767e2edd43ff45a3a7e1eaefcef78643dca964632e7aad82c673a30d8633fde',
    sha384: 'd6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165',
    sha512: '589ee1e146544716e8deafe6db247b01b81e9f9c7dd16b814aa159138749105fba5388dd1dea702f35240c184933121e2c61b8f50d3ef91393a49a38c3f73fc8',
  },
  policyB: {
    sha256: 'ca3d0a99a2b93906f7a3342414efcfb3a385d44cd1fd459089d19b5071c0b7a0',
    sha384: 'b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09699646150f9fc000f3f80e12',
    sha512: 'b8221ca69e8550a4914de3faa6a18c072cc01208073a928d5d66d59ef79e49a429c41a6b269571d57edb25fbdb1838425608b413cd616a5f6db5b6071af99bea',
  },
} as const;

function check(alg: HashAlg): EkPolicyHash {
  if (alg !== 'sha256' && alg !== 'sha384' && alg !== 'sha512') throw invalidArgument(`The EK profile defines policies for sha256, sha384 and sha512, not ${alg}.`);
  return alg;
}

/** PolicyA: the low-range EK authPolicy (and branch A of the high-range one). */
export function ekPolicyA(alg: HashAlg): Uint8Array {
  return policySecret(check(alg), handleName(TPM_RH_ENDORSEMENT));
}

export function ekPolicyIndexName(alg: HashAlg): Uint8Array {
  const a = check(alg);
  return nvName({ nvIndex: EK_POLICY_NV_INDEX[a], nameAlg: a, attributes: EK_POLICY_NV_ATTRIBUTES, authPolicy: ekPolicyA(a), dataSize: 2 + digestSize(a) });
}

export function ekPolicyC(alg: HashAlg): Uint8Array {
  return policyAuthorizeNV(check(alg), ekPolicyIndexName(alg));
}

/** PolicyB: the high-range EK authPolicy. */
export function ekPolicyB(alg: HashAlg): Uint8Array {
  return policyOR(check(alg), [ekPolicyA(alg), ekPolicyC(alg)]);
}

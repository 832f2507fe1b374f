// Policy digests computed in software (trial sessions without a TPM), per TPM 2.0 Library Part 3
// §23. Each function extends `previous` (default: the all-zero start digest) and returns the new
// policyDigest. Handles are given by Name (see name.ts: handleName for hierarchies).
import { u32 } from './bytes.ts';
import { digestSize, hash, type HashAlg } from './hash.ts';
import { invalidArgument } from './errors.ts';

export const TPM_CC = {
  PolicySecret: 0x0151,
  PolicyAuthValue: 0x016b,
  PolicyCommandCode: 0x016c,
  PolicyOR: 0x0171,
  PolicyPassword: 0x018c,
  PolicyAuthorizeNV: 0x0192,
  ActivateCredential: 0x0147,
} as const;

export function startDigest(alg: HashAlg): Uint8Array {
  return new Uint8Array(digestSize(alg));
}

function prev(alg: HashAlg, p: Uint8Array | undefined): Uint8Array {
  if (p === undefined) return startDigest(alg);
  if (p.length !== digestSize(alg)) throw invalidArgument(`A ${alg} policy digest is ${digestSize(alg)} bytes, not ${p.length}.`);
  return p;
}

function checkName(name: Uint8Array): void {
  if (name.length < 4 || name.length > 2 + 64) throw invalidArgument(`A Name is 4 (handle) to 66 bytes, not ${name.length}.`);
}

/** PolicySecret: PolicyUpdate(TPM_CC_PolicySecret, authObject Name, policyRef) — two hashes (Part 3 §23.4). */
export function policySecret(alg: HashAlg, authObjectName: Uint8Array, policyRef: Uint8Array = new Uint8Array(0), previous?: Uint8Array): Uint8Array {
  checkName(authObjectName);
  if (policyRef.length > digestSize(alg)) throw invalidArgument(`policyRef is limited to ${digestSize(alg)} bytes.`);
  const d = hash(alg, prev(alg, previous), u32(TPM_CC.PolicySecret), authObjectName);
  return hash(alg, d, policyRef);
}

/** PolicyOR: H(0…0 ‖ TPM_CC_PolicyOR ‖ digests) — the previous digest is replaced, not extended (Part 3 §23.6). */
export function policyOR(alg: HashAlg, digests: readonly Uint8Array[]): Uint8Array {
  if (digests.length < 2 || digests.length > 8) throw invalidArgument(`PolicyOR takes 2 to 8 branch digests, not ${digests.length}.`);
  for (const d of digests) if (d.length !== digestSize(alg)) throw invalidArgument(`Every PolicyOR branch must be a ${digestSize(alg)}-byte ${alg} digest.`);
  return hash(alg, startDigest(alg), u32(TPM_CC.PolicyOR), ...digests);
}

/** PolicyCommandCode: H(previous ‖ TPM_CC_PolicyCommandCode ‖ code). */
export function policyCommandCode(alg: HashAlg, commandCode: number, previous?: Uint8Array): Uint8Array {
  return hash(alg, prev(alg, previous), u32(TPM_CC.PolicyCommandCode), u32(commandCode));
}

/** PolicyAuthValue: H(previous ‖ TPM_CC_PolicyAuthValue). */
export function policyAuthValue(alg: HashAlg, previous?: Uint8Array): Uint8Array {
  return hash(alg, prev(alg, previous), u32(TPM_CC.PolicyAuthValue));
}

/** PolicyPassword extends with TPM_CC_PolicyAuthValue, so it yields the same digest (Part 3 §23.18). */
export function policyPassword(alg: HashAlg, previous?: Uint8Array): Uint8Array {
  return policyAuthValue(alg, previous);
}

/** PolicyAuthorizeNV: H(previous ‖ TPM_CC_PolicyAuthorizeNV ‖ nvIndex Name) (Part 3 §23.22). */
export function policyAuthorizeNV(alg: HashAlg, nvIndexName: Uint8Array, previous?: Uint8Array): Uint8Array {
  checkName(nvIndexName);
  return hash(alg, prev(alg, previous), u32(TPM_CC.PolicyAuthorizeNV), nvIndexName);
}


// SLSA Verification Summary Attestations (https://slsa.dev/spec/v1.0/verification_summary): every
// verification — allow or deny — is summarised as an in-toto Statement about the artifact, and may
// be signed as a DSSE envelope by any Signer (a software key now, the TPM device key later).
import { INTOTO_PAYLOAD_TYPE, STATEMENT_V1, type Statement } from './intoto.ts';
import { envelopeToJSON, signEnvelope, type EnvelopeJSON, type Signer } from './dsse.ts';
import type { DigestSet } from './digest.ts';

export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
export const DEFAULT_VERIFIER_ID = 'https://tollgate.dev/verifier';

export interface VSAInput {
  verifierId?: string;
  verifierVersion?: Record<string, string>;
  timeVerified: Date;
  /** The artifact's name as the consumer knows it (a TUF target path, a file URI, `sha256:…`). */
  resourceUri: string;
  subjectName: string;
  artifactDigests: DigestSet;
  policy?: { uri: string; digest: Record<string, string> };
  inputAttestations: Array<{ uri: string; digest: Record<string, string> }>;
  passed: boolean;
  /** SLSA_BUILD_LEVEL_n reached (ignored when !passed: a failed verification claims no level). */
  verifiedLevels: string[];
}

export function buildVSA(input: VSAInput): Statement {
  return {
    _type: STATEMENT_V1,
    subject: [{ name: input.subjectName, digest: { ...input.artifactDigests } as Record<string, string> }],
    predicateType: VSA_PREDICATE_TYPE,
    predicate: {
      verifier: { id: input.verifierId ?? DEFAULT_VERIFIER_ID, ...(input.verifierVersion ? { version: input.verifierVersion } : {}) },
      timeVerified: input.timeVerified.toISOString(),
      resourceUri: input.resourceUri,
      ...(input.policy ? { policy: input.policy } : {}),
      inputAttestations: input.inputAttestations,
      verificationResult: input.passed ? 'PASSED' : 'FAILED',
      verifiedLevels: input.passed ? input.verifiedLevels : ['FAILED'],
      slsaVersion: '1.0',
    },
  };
}

/** Signs a VSA statement as a DSSE envelope. */
export async function signVSA(vsa: Statement, signer: Signer): Promise<EnvelopeJSON> {
  const env = await signEnvelope(INTOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(vsa)), [signer]);
  return envelopeToJSON(env);
}

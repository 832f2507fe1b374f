// Whose VEX counts (README "Who decides what"): a VEX statement is believed only when it is an
// in-toto statement with an OpenVEX predicate, about THIS artifact (its subject), signed — in a
// DSSE envelope or a Sigstore bundle — by a signer the policy names under vulnerabilities.vex.
// A bare OpenVEX document is information, not authentication; one signed by anyone else (the
// publisher included, unless the policy names its key or identity there) is set aside. Nothing
// here suppresses a finding: it only decides which documents checkVulnerabilities may read.
import { failed, notApplicable, passed, type Check } from '../check.ts';
import type { DigestSet } from '../digest.ts';
import type { EvidenceItem } from '../evidence.ts';
import { verifyEnvelope } from '../dsse.ts';
import { INTOTO_PAYLOAD_TYPE, matchSubject, parseStatement, type Statement } from '../intoto.ts';
import type { VerificationKey } from '../keys.ts';
import type { IdentityPolicy, SigstoreOptions } from '../policy.ts';
import { UNTRUSTED_SIGNER_CODES, verifyBundle } from '../sigstore.ts';
import type { LoadedTrustedRoot } from '../trusted-root.ts';

/** A VEX predicate whose signature and subject were verified; `signer` says by whom. */
export interface TrustedVEX {
  uri: string;
  predicate: unknown;
  signer: string;
}

/** The policy's VEX signers (vulnerabilities.vex). */
export interface VEXTrust {
  identities: IdentityPolicy[];
  keys: VerificationKey[];
  sigstore?: SigstoreOptions;
}

export function isOpenVEXPredicateType(t: string): boolean {
  return t === 'https://openvex.dev/ns' || t.startsWith('https://openvex.dev/ns/');
}

/**
 * One check per VEX item (`vex.document[i]`): passed when it will be used, not applicable when it
 * is set aside (unsigned, untrusted signer, about another artifact, not OpenVEX), failed when it is
 * broken (a bad signature, unreadable evidence).
 */
export async function verifyVEXEvidence(
  items: readonly EvidenceItem[],
  /** undefined: the policy believes no VEX. */
  trust: VEXTrust | undefined,
  root: () => Promise<LoadedTrustedRoot>,
  digests: DigestSet,
): Promise<{ checks: Check[]; documents: TrustedVEX[] }> {
  const checks: Check[] = [];
  const documents: TrustedVEX[] = [];
  const unused = (id: string, uri: string, why: string) => checks.push(notApplicable(id, `${uri}: ${why}; not used`));
  for (const [i, item] of items.entries()) {
    const id = `vex.document[${i}]`;
    if (item.kind === 'error') {
      if (item.error.code === 'EVIDENCE_UNKNOWN') unused(id, item.uri, 'an unsigned document (VEX counts only inside a DSSE envelope or Sigstore bundle signed by a VEX signer the policy names)');
      else checks.push(failed(id, `${item.uri}: ${item.error.message}`, { uri: item.uri, code: item.error.code }));
      continue;
    }
    if (!trust || trust.identities.length + trust.keys.length === 0) {
      unused(id, item.uri, 'the policy names no VEX signers (vulnerabilities.vex), so no VEX statement is believed');
      continue;
    }
    let statement: Statement | undefined;
    let signer: string;
    if (item.kind === 'bundle') {
      const r = verifyBundle(item.bundle, { trustedRoot: await root(), identities: trust.identities, keys: trust.keys, ...(trust.sigstore ? { options: trust.sigstore } : {}), artifact: { digests } });
      if (!r.ok || !r.signer) {
        if (r.code && UNTRUSTED_SIGNER_CODES.has(r.code)) unused(id, item.uri, `${r.reason} (not a VEX signer the policy names)`);
        else checks.push(failed(id, `${item.uri}: ${r.reason}`, { uri: item.uri, ...(r.code ? { code: r.code } : {}) }));
        continue;
      }
      signer = r.signer.keyid !== undefined ? `key ${r.signer.keyid}` : `${r.signer.subjectAlternativeName} (${r.signer.issuer})`;
      statement = r.statement;
    } else {
      const env = item.envelope;
      if (env.payloadType !== INTOTO_PAYLOAD_TYPE) {
        unused(id, item.uri, `payloadType ${JSON.stringify(env.payloadType)} is not an in-toto statement`);
        continue;
      }
      const v = verifyEnvelope(env, trust.keys, 1);
      if (!v.verified) {
        unused(id, item.uri, trust.keys.length ? `no VEX signer key the policy names (${trust.keys.map((k) => k.keyid).join(', ')}) verified its signature` : 'a DSSE envelope is verified with keys, and the policy names no VEX signer keys');
        continue;
      }
      try {
        statement = parseStatement(env.payload, `${item.uri} statement`);
      } catch (e) {
        checks.push(failed(id, `${item.uri}: ${(e as Error).message}`, { uri: item.uri }));
        continue;
      }
      signer = `key ${v.validKeyids.join(', ')}`;
    }
    if (!statement) {
      unused(id, item.uri, `signed by ${signer}, but not an in-toto statement`);
      continue;
    }
    if (!isOpenVEXPredicateType(statement.predicateType)) {
      unused(id, item.uri, `signed by ${signer}, but its predicate is ${statement.predicateType}, not OpenVEX`);
      continue;
    }
    const m = matchSubject(statement, digests);
    if (!m.matched) {
      unused(id, item.uri, `signed by ${signer}, but not about this artifact (${m.reason})`);
      continue;
    }
    documents.push({ uri: item.uri, predicate: statement.predicate, signer });
    checks.push(passed(id, `${item.uri}: OpenVEX statement about the artifact, signed by ${signer}, a VEX signer the policy names`, { uri: item.uri }));
  }
  return { checks, documents };
}

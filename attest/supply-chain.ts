// Wires attest/sbom (SBOM schema, binding, licences, denied components) and attest/osv (offline
// vulnerabilities, OpenVEX) into verifyArtifact: SBOMs come as files (--sbom) or as predicates of
// VERIFIED in-toto statements; their components are matched against the OSV database.
import { failed, notApplicable, type Check } from './check.ts';
import { AttestError } from './errors.ts';
import { parseJSON } from './encoding.ts';
import { MAX_SBOM_BYTES, MAX_SBOM_VALUES, MAX_VEX_BYTES } from './limits.ts';
import { analyzeSBOMs, allComponents, DEFAULT_SBOM_MAX_DEPTH, DEFAULT_SBOM_POLICY, sbomFormatOfPredicateType, type SBOMInput, type SBOMPolicy } from './sbom/index.ts';
import { checkVulnerabilities, DEFAULT_VULNERABILITY_POLICY, loadOSVDatabase, type VulnerabilityComponent, type VulnerabilityPolicy } from './osv/index.ts';
import { parseOpenVEX, type OpenVEXDocument } from './vex/index.ts';
import type { ExtraCheckInput } from './verify.ts';

export function supplyChainChecks(input: ExtraCheckInput): Check[] {
  const policy = input.policy?.policy;
  const vulnPolicy: VulnerabilityPolicy = policy?.vulnerabilities ?? DEFAULT_VULNERABILITY_POLICY;
  const wantVulns = policy?.vulnerabilities !== undefined || input.osvDatabase !== undefined;
  const sbom = sbomChecks(input, wantVulns);
  if (!sbom) return [];
  const { checks, components } = sbom;
  if (!wantVulns) return checks;

  if (!input.osvDatabase) {
    checks.push(failed('vuln.database', 'the policy asks for a vulnerability check, but no OSV database was given'));
    return checks;
  }
  let database;
  try {
    database = loadOSVDatabase(input.osvDatabase.bytes);
  } catch (e) {
    if (!(e instanceof AttestError)) throw e;
    checks.push(failed('vuln.database', `${input.osvDatabase.uri}: ${e.message}`, { code: e.code }));
    return checks;
  }
  const vex: OpenVEXDocument[] = [];
  for (const v of input.vex) {
    try {
      vex.push(parseOpenVEX(v.predicate, `${v.uri} (signed by ${v.signer})`));
    } catch (e) {
      if (!(e instanceof AttestError)) throw e;
      checks.push(failed('vex.parse', `${v.uri}: ${e.message}`, { code: e.code }));
    }
  }
  if (!components) {
    checks.push(notApplicable('vuln.scan', 'no valid SBOM, so there are no components to match against the OSV database'));
    if (policy?.vulnerabilities !== undefined) checks.push(failed('vuln.components', 'the policy asks for a vulnerability check, but no valid SBOM lists the components'));
    return checks;
  }
  checks.push(...checkVulnerabilities({ components, database, policy: vulnPolicy, vex, now: input.now }));
  return checks;
}

/**
 * The SBOM checks and, when vulnerabilities are checked, the components to match (undefined when
 * no SBOM is valid); undefined when there is nothing to check. A function of its own so that the
 * parsed SBOM JSON and the normalised documents are garbage before the OSV database is loaded
 * (with both at their caps the peak was 1.13 GB; see attest/limits.ts).
 */
function sbomChecks(input: ExtraCheckInput, wantVulns: boolean): { checks: Check[]; components: VulnerabilityComponent[] | undefined } | undefined {
  const policy = input.policy?.policy;
  const sbomPolicy: SBOMPolicy = policy?.sbom ?? DEFAULT_SBOM_POLICY;
  const checks: Check[] = [];
  const sboms: SBOMInput[] = [];
  for (const s of input.sboms) {
    try {
      sboms.push({ document: parseJSON(s.bytes, s.uri, { maxBytes: MAX_SBOM_BYTES, maxDepth: DEFAULT_SBOM_MAX_DEPTH, maxValues: MAX_SBOM_VALUES }), source: s.uri });
    } catch (e) {
      if (!(e instanceof AttestError)) throw e;
      checks.push(failed('sbom.schema', `${s.uri}: ${e.message}`, { code: e.code }));
    }
  }
  for (const st of input.statements) {
    if (sbomFormatOfPredicateType(st.statement.predicateType) === undefined) continue;
    sboms.push({ document: st.statement.predicate, source: `${st.uri} (predicate, signed by ${st.signer})`, predicateType: st.statement.predicateType, subjectMatched: st.matchesArtifact });
  }
  const wantSBOM = policy?.sbom !== undefined || sboms.length > 0 || checks.length > 0;
  if (!wantSBOM && !wantVulns) return undefined;
  const analysis = analyzeSBOMs({ sboms, artifactDigests: input.artifactDigests, policy: sbomPolicy });
  checks.push(...analysis.checks);
  if (!wantVulns || analysis.documents.length === 0) return { checks, components: undefined };
  return { checks, components: analysis.documents.flatMap((d) => allComponents(d).map((c) => ({ name: c.name, version: c.version, purl: c.purl, bomRef: c.ref }))) };
}

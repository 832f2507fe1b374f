// Offline vulnerability matching: OSV database loading and indexing, range evaluation with each
// ecosystem's version ordering, CVSS scoring, the vulnerability policy, and the checks.
export { loadOSVDatabase, buildOSVDatabase, type OSVDatabase, type OSVEntry, type OSVLoadOptions } from './database.ts';
export { validateOSVRecord, type OSVRecord, type OSVAffected, type OSVRange, type OSVEvent, type OSVSeverity } from './record.ts';
export { evaluateAffected, describeRange, type AffectedResult } from './range.ts';
export { ecosystemOf, orderingForEcosystem, normalizePackageName, splitEcosystem, type EcosystemPackage } from './ecosystem.ts';
export { cvssBaseScore, levelOfScore, levelRank, roundup31, SEVERITY_LEVELS, type CVSSScore, type CVSSVersion, type SeverityLevel } from './cvss.ts';
export { findingSeverity, describeSeverity, type FindingSeverity } from './severity.ts';
export { validateVulnerabilityPolicy, DEFAULT_VULNERABILITY_POLICY, type VulnerabilityPolicy, type VulnerabilityIgnore } from './policy.ts';
export { checkVulnerabilities, type CheckVulnerabilitiesInput, type VulnerabilityComponent } from './check.ts';
export { OSVError } from './errors.ts';

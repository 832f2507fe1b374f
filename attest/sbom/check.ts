import { failed, notApplicable, passed, type Check } from '../check.ts';
import { evaluateLicense, parseLicenseExpression, LicenseExpressionError } from '../license/index.ts';
import { SBOMError } from './errors.ts';
import { allComponents, type SBOMComponent, type SBOMDocument } from './model.ts';
import { parseSBOM } from './parse.ts';
import { deniedMatch, type LicensePolicy, type SBOMPolicy } from './policy.ts';
import { parsePurl, formatPurl, type PackageURL } from './purl.ts';

// SBOM checks: schema validity, accepted format, binding to the artifact, required fields,
// licences and denied components. Licence and required-field rules look at the components the
// artifact contains; the described component (the artifact itself) is used for binding and is
// also matched against denied components. Every SBOM yields its own checks; ids are shared
// (sbom.schema, sbom.format, sbom.binding, sbom.fields, sbom.license, sbom.denied-components)
// and reasons name the SBOM's source.

export interface SBOMInput {
  /** The parsed JSON: a bare SBOM or the predicate of an in-toto Statement. */
  readonly document: unknown;
  readonly source: string;
  /** in-toto predicateType, when the SBOM arrived as a Statement predicate. */
  readonly predicateType?: string | undefined;
  /** The caller matched the artifact against the carrying Statement's subjects. */
  readonly subjectMatched?: boolean | undefined;
}

export interface ArtifactDigests {
  readonly sha256?: string | undefined;
  readonly sha512?: string | undefined;
}

export interface CheckSBOMInput {
  readonly sboms: readonly SBOMInput[];
  readonly artifactDigests: ArtifactDigests;
  readonly policy: SBOMPolicy;
}

export interface SBOMAnalysis {
  readonly checks: Check[];
  /** The SBOMs that parsed and validated (for vulnerability matching), in input order. */
  readonly documents: SBOMDocument[];
}

const LIST_MAX = 10;

function list(items: string[]): string {
  return items.length <= LIST_MAX ? items.join('; ') : `${items.slice(0, LIST_MAX).join('; ')}; and ${items.length - LIST_MAX} more`;
}

function label(c: SBOMComponent): string {
  return c.purl ?? `${c.name}${c.version ? `@${c.version}` : ''}`;
}

function bindingCheck(doc: SBOMDocument, input: SBOMInput, digests: ArtifactDigests, policy: SBOMPolicy): Check {
  const id = 'sbom.binding';
  if (!policy.bindToArtifact) return notApplicable(id, `${doc.source}: the policy sets bindToArtifact: false`);
  if (input.subjectMatched) return passed(id, `${doc.source}: the in-toto Statement carrying this SBOM names the artifact as a subject`);
  const want: Array<['sha256' | 'sha512', string]> = [];
  if (digests.sha256) want.push(['sha256', digests.sha256.toLowerCase()]);
  if (digests.sha512) want.push(['sha512', digests.sha512.toLowerCase()]);
  if (want.length === 0) return failed(id, `${doc.source}: no artifact digest was given to bind the SBOM to`);
  if (doc.described.length === 0) {
    const where = doc.format === 'cyclonedx' ? 'metadata.component' : 'a DESCRIBES relationship or documentDescribes';
    return failed(id, `${doc.source}: the SBOM does not say what it describes (${where}), so it cannot be bound to the artifact`);
  }
  const found: string[] = [];
  for (const d of doc.described) {
    let common = 0;
    let mismatch = false;
    for (const [alg, hex] of want) {
      const h = d.hashes.filter((x) => x.alg === alg);
      if (h.length === 0) continue;
      common++;
      if (!h.some((x) => x.value === hex)) mismatch = true;
      for (const x of h) found.push(`${label(d)} ${alg}:${x.value}`);
    }
    if (common > 0 && !mismatch) {
      return passed(id, `${doc.source}: the described component ${label(d)} carries the artifact's ${want.filter(([a]) => d.hashes.some((x) => x.alg === a)).map(([a, h]) => `${a}:${h}`).join(', ')}`);
    }
  }
  const expected = want.map(([a, h]) => `${a}:${h}`).join(' or ');
  if (found.length === 0) return failed(id, `${doc.source}: the described component${doc.described.length > 1 ? 's have' : ' has'} no sha256/sha512 hash; expected ${expected}`, { expected });
  return failed(id, `${doc.source}: the described component's digest does not match the artifact: expected ${expected}, found ${list(found)}`, { expected, found });
}

function fieldsCheck(doc: SBOMDocument, policy: SBOMPolicy): Check {
  const id = 'sbom.fields';
  const { components: cf, document: df } = policy.requiredFields;
  if (cf.length === 0 && df.length === 0) return notApplicable(id, `${doc.source}: the policy requires no fields`);
  const missing: string[] = [];
  if (df.includes('author') && doc.authors.length === 0) missing.push('the document has no author');
  if (df.includes('tool') && doc.tools.length === 0) missing.push('the document names no tool');
  if (df.includes('timestamp') && !doc.timestamp) missing.push('the document has no timestamp');
  for (const c of doc.components) {
    const lacks: string[] = [];
    if (cf.includes('version') && !c.version) lacks.push('version');
    if (cf.includes('purl') && !c.purl) lacks.push('purl');
    if (cf.includes('license') && (c.licenses.length === 0 || c.licenses.every((l) => l === 'NOASSERTION'))) lacks.push('license');
    if (cf.includes('hash') && c.hashes.length === 0) lacks.push('hash');
    if (lacks.length) missing.push(`${label(c)} lacks ${lacks.join(', ')}`);
  }
  const asked = [...df.map((f) => `document ${f}`), ...cf.map((f) => `component ${f}`)].join(', ');
  if (missing.length) return failed(id, `${doc.source}: required fields missing (${asked}): ${list(missing)}`, { missing: missing.length });
  return passed(id, `${doc.source}: all required fields present (${asked}) in ${doc.components.length} components`);
}

function componentLicense(c: SBOMComponent, lp: LicensePolicy): string | undefined {
  if (c.licenses.length === 0) return lp.missing === 'deny' ? 'no licence given (missing: deny)' : undefined;
  const problems: string[] = [];
  for (const text of c.licenses) {
    let e;
    try {
      e = parseLicenseExpression(text);
    } catch (err) {
      if (!(err instanceof LicenseExpressionError)) throw err;
      if (lp.unrecognized === 'deny') problems.push(`${JSON.stringify(text)} is not an SPDX expression (unrecognized: deny)`);
      continue;
    }
    if (e.type === 'special') {
      const rule = e.value === 'NONE' ? lp.none : lp.noAssertion;
      if (rule === 'deny') problems.push(`${e.value} (${e.value === 'NONE' ? 'none' : 'noAssertion'}: deny)`);
      continue;
    }
    const v = evaluateLicense(e, lp);
    if (!v.ok) problems.push(`${JSON.stringify(text)}: ${v.blocked.join(', ')}`);
  }
  return problems.length ? problems.join('; ') : undefined;
}

function licenseCheck(doc: SBOMDocument, policy: SBOMPolicy): Check {
  const id = 'sbom.license';
  const lp = policy.licenses;
  if (!lp) return notApplicable(id, `${doc.source}: the policy has no licence rules`);
  const bad: string[] = [];
  const all = doc.components;
  for (const c of all) {
    const p = componentLicense(c, lp);
    if (p) bad.push(`${label(c)}: ${p}`);
  }
  if (bad.length) return failed(id, `${doc.source}: ${bad.length} of ${all.length} components have licences the policy does not accept: ${list(bad)}`, { offenders: bad.length });
  return passed(id, `${doc.source}: the licences of all ${all.length} components satisfy the policy`);
}

function deniedCheck(doc: SBOMDocument, policy: SBOMPolicy): Check {
  const id = 'sbom.denied-components';
  if (policy.deniedComponents.length === 0) return notApplicable(id, `${doc.source}: the policy denies no components`);
  const hits: string[] = [];
  let noPurl = 0;
  const all = allComponents(doc);
  for (const c of all) {
    if (!c.purl) {
      noPurl++;
      continue;
    }
    let p: PackageURL;
    try {
      p = parsePurl(c.purl);
    } catch (e) {
      hits.push(`${label(c)}: ${(e as Error).message}`);
      continue;
    }
    for (const d of policy.deniedComponents) {
      if (deniedMatch(d, p)) {
        hits.push(`${formatPurl(p)} matches denied ${d.text}${d.reason ? ` (${d.reason})` : ''}`);
        break;
      }
    }
  }
  const note = noPurl ? ` (${noPurl} component${noPurl === 1 ? '' : 's'} without purl could not be checked)` : '';
  if (hits.length) return failed(id, `${doc.source}: ${list(hits)}${note}`, { matches: hits.length });
  return passed(id, `${doc.source}: none of ${all.length} components matches a denied pattern${note}`);
}

/** Parses, validates and checks every SBOM; keeps the parsed documents for vulnerability matching. */
export function analyzeSBOMs(input: CheckSBOMInput): SBOMAnalysis {
  const { policy } = input;
  const checks: Check[] = [];
  const documents: SBOMDocument[] = [];
  if (input.sboms.length === 0) {
    checks.push(policy.required ? failed('sbom.present', 'the policy requires an SBOM and none was provided') : notApplicable('sbom.present', 'no SBOM was provided and the policy does not require one'));
    return { checks, documents };
  }
  checks.push(passed('sbom.present', `${input.sboms.length} SBOM${input.sboms.length === 1 ? '' : 's'} provided`));
  for (const s of input.sboms) {
    let doc: SBOMDocument;
    try {
      doc = parseSBOM(s.document, { source: s.source, ...(s.predicateType !== undefined ? { predicateType: s.predicateType } : {}) });
    } catch (e) {
      if (!(e instanceof SBOMError)) throw e;
      checks.push(failed('sbom.schema', e.message, { code: e.code, ...(e.path !== undefined ? { path: e.path } : {}) }));
      continue;
    }
    documents.push(doc);
    const what = doc.format === 'cyclonedx' ? `CycloneDX ${doc.specVersion}` : 'SPDX 2.3';
    checks.push(passed('sbom.schema', `${s.source}: valid ${what} (${doc.components.length + doc.described.length} components, official JSON schema)`));
    if (!policy.formats.includes(doc.format)) {
      checks.push(failed('sbom.format', `${s.source}: ${what} is not an accepted format (policy accepts ${policy.formats.join(', ')})`));
    }
    checks.push(bindingCheck(doc, s, input.artifactDigests, policy));
    checks.push(fieldsCheck(doc, policy));
    checks.push(licenseCheck(doc, policy));
    checks.push(deniedCheck(doc, policy));
  }
  return { checks, documents };
}

export function checkSBOM(input: CheckSBOMInput): Check[] {
  return analyzeSBOMs(input).checks;
}

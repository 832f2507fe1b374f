import { failed, notApplicable, passed, type Check } from '../check.ts';
import { parsePurl, formatPurl, type PackageURL } from '../sbom/purl.ts';
import { vexDecision, type OpenVEXDocument } from '../vex/index.ts';
import { levelOfScore, levelRank } from './cvss.ts';
import type { OSVDatabase, OSVEntry } from './database.ts';
import { ecosystemOf } from './ecosystem.ts';
import type { VulnerabilityPolicy } from './policy.ts';
import { evaluateAffected } from './range.ts';
import { describeSeverity, findingSeverity, type FindingSeverity } from './severity.ts';
import { MAX_VULN_EVALUATIONS, MAX_VULN_FINDINGS_LISTED } from '../limits.ts';

// Matches SBOM components against the OSV database and turns every hit into a Check under the
// vulnerability policy. One check per (vulnerability, component) finding, id `vuln.<OSV id>`,
// plus a `vuln.scan` summary. Bounded for hostile SBOMs (a 96 KB one listing 1000 versions of a
// package with 430 advisories made 430,000 findings, 18 s and a stack overflow): at most
// MAX_VULN_EVALUATIONS (component, advisory) pairs are evaluated, or the scan fails (deny); at
// most MAX_VULN_FINDINGS_LISTED findings get a check each, the rest are decided and summed up in
// one `vuln.more` check.

export interface VulnerabilityComponent {
  readonly name: string;
  readonly version?: string | undefined;
  readonly purl?: string | undefined;
  readonly bomRef?: string | undefined;
}

export interface CheckVulnerabilitiesInput {
  readonly components: readonly VulnerabilityComponent[];
  readonly database: OSVDatabase;
  readonly policy: VulnerabilityPolicy;
  readonly vex?: readonly OpenVEXDocument[];
  readonly now: Date;
}

function verdict(sev: FindingSeverity, policy: VulnerabilityPolicy): { fail: boolean; unknown: boolean; why: string } {
  const max = policy.maxSeverity;
  if (typeof max === 'number') {
    if (sev.score !== undefined) return { fail: sev.score > max, unknown: false, why: `score ${sev.score.toFixed(1)} ${sev.score > max ? '>' : '≤'} allowed ${max}` };
    if (sev.level !== undefined) {
      const cap = levelOfScore(max);
      const over = levelRank(sev.level) > levelRank(cap);
      return { fail: over, unknown: false, why: `level ${sev.level.toUpperCase()} ${over ? 'above' : 'within'} allowed ${max} (${cap.toUpperCase()})` };
    }
  } else if (sev.level !== undefined) {
    const over = levelRank(sev.level) > levelRank(max);
    return { fail: over, unknown: false, why: `${sev.level.toUpperCase()} ${over ? 'above' : 'within'} allowed ${max.toUpperCase()}` };
  }
  return { fail: policy.unknownSeverity === 'fail', unknown: true, why: `no usable severity, and unknownSeverity is "${policy.unknownSeverity}"` };
}

export function checkVulnerabilities(input: CheckVulnerabilitiesInput): Check[] {
  const { database, policy, now } = input;
  const vex = policy.vex ? (input.vex ?? []) : [];
  const checks: Check[] = [];
  const seen = new Set<string>();
  let checkedComponents = 0;
  const unchecked: string[] = [];
  let uncheckedCount = 0;
  const skip = (why: string): void => {
    if (uncheckedCount++ < 10) unchecked.push(why);
  };
  let findings = 0;
  let evaluations = 0;
  let overflow = false;
  const more = { failed: 0, passed: 0, other: 0, first: '' };
  // Each finding's check: listed while under the cap, afterwards only counted (its verdict still counts).
  const report = (c: Check): void => {
    if (checks.length < MAX_VULN_FINDINGS_LISTED) { checks.push(c); return; }
    if (c.status === 'failed') { more.failed++; more.first ||= c.reason; } else if (c.status === 'passed') more.passed++; else more.other++;
  };
  scan: for (const component of input.components) {
    if (!component.purl) {
      skip(`${component.name}${component.version ? `@${component.version}` : ''} (no purl)`);
      continue;
    }
    let purl: PackageURL;
    try {
      purl = parsePurl(component.purl);
    } catch (e) {
      skip(`${component.name} (${(e as Error).message})`);
      continue;
    }
    const eco = ecosystemOf(purl);
    if (!eco) {
      skip(`${component.purl} (no OSV ecosystem for purl type "${purl.type}${purl.namespace && (purl.type === 'deb' || purl.type === 'apk') ? `/${purl.namespace}` : ''}")`);
      continue;
    }
    const version = eco.version ?? component.version;
    if (!version) {
      skip(`${component.purl} (no version)`);
      continue;
    }
    checkedComponents++;
    const entries = database.lookup(eco.base, eco.name);
    if (entries.length === 0) continue;
    evaluations += entries.length;
    if (evaluations > MAX_VULN_EVALUATIONS) {
      overflow = true;
      break scan;
    }
    const shown = formatPurl(purl);
    const byRecord = new Map<string, OSVEntry[]>();
    for (const e of entries) {
      if (e.release !== undefined && eco.release !== undefined && e.release !== eco.release) continue;
      const l = byRecord.get(e.record.id);
      if (l) l.push(e);
      else byRecord.set(e.record.id, [e]);
    }
    for (const [id, list] of byRecord) {
      const record = list[0]!.record;
      if (record.withdrawn !== undefined && Date.parse(record.withdrawn) <= now.getTime()) continue;
      const key = `${id}\u0000${shown}`;
      if (seen.has(key)) continue;
      let hit: { entry: OSVEntry; via: string } | undefined;
      const unknownWhy: string[] = [];
      for (const entry of list) {
        const r = evaluateAffected(entry.affected, version, eco.ordering);
        if (r.status === 'affected') {
          hit = { entry, via: r.via };
          break;
        }
        if (r.status === 'unknown') unknownWhy.push(...r.why);
      }
      const checkId = `vuln.${id}`;
      const releaseNote = eco.release === undefined && list.some((e) => e.release !== undefined) ? " (the SBOM does not name the distro release, so every release's records apply)" : '';
      const subject = `${shown}${purl.version === undefined ? ` version ${version}` : ''}`;
      if (!hit && unknownWhy.length === 0) continue;
      seen.add(key);
      findings++;
      const ids = [id, ...(record.aliases ?? [])];
      const details: Record<string, unknown> = { component: shown, version, vulnerability: id, aliases: record.aliases ?? [], ...(component.bomRef ? { bomRef: component.bomRef } : {}) };
      let base: string;
      let sev: FindingSeverity | undefined;
      if (hit) {
        sev = findingSeverity(record, hit.entry.affected);
        base = `${id}${record.aliases?.length ? ` (${record.aliases.join(', ')})` : ''} affects ${subject} via ${hit.via} [${hit.entry.ecosystem}], severity ${describeSeverity(sev)}${sev.problems.length ? ` (unscored: ${sev.problems.join('; ')})` : ''}${releaseNote}`;
        Object.assign(details, { ecosystem: hit.entry.ecosystem, via: hit.via, score: sev.score, scoreVector: sev.scoreVector, level: sev.level, databaseRating: sev.databaseRating });
      } else {
        base = `cannot tell whether ${subject} is affected by ${id}: ${unknownWhy.join('; ')}${releaseNote}`;
      }
      // Suppression applies to findings and to undecidable matches alike: VEX first, then policy ignores.
      if (vex.length > 0) {
        const d = vexDecision(vex, ids, purl);
        if (d && (d.status === 'not_affected' || d.status === 'fixed')) {
          const why = d.statement.justification ?? d.statement.impactStatement ?? '';
          report(notApplicable(checkId, `${base}; suppressed by OpenVEX ${d.document.id} statement #${d.statement.index} (${d.status}${why ? `: ${why}` : ''}) by ${d.document.author}, ${d.document.source}`));
          continue;
        }
        if (d) details.vex = `${d.document.id} statement #${d.statement.index}: ${d.status} (does not suppress)`;
      }
      const ignores = policy.ignore.filter((ig) => ids.includes(ig.id));
      const active = ignores.find((ig) => now.getTime() < ig.expires.getTime());
      if (active) {
        report(passed(checkId, `${base}; ignored by policy (${active.id}) until ${active.expires.toISOString()}${active.reason ? `: ${active.reason}` : ''}`, { ...details, ignoredUntil: active.expires.toISOString() }));
        continue;
      }
      const expiredNote = ignores.length ? `; the policy's ignore entry for ${ignores[0]!.id} expired at ${ignores[0]!.expires.toISOString()} and no longer suppresses it` : '';
      if (!sev) {
        const text = `${base}${expiredNote}; unevaluable is "${policy.unevaluable}"`;
        report(policy.unevaluable === 'fail' ? failed(checkId, text, details) : notApplicable(checkId, text));
        continue;
      }
      const v = verdict(sev, policy);
      const text = `${base}; ${v.why}${expiredNote}`;
      report(v.fail ? failed(checkId, text, details) : passed(checkId, text, details));
    }
  }
  const summary = `${checkedComponents} of ${input.components.length} components checked against ${database.recordCount} OSV records: ${findings} finding${findings === 1 ? '' : 's'}`;
  const uncheckedNote = uncheckedCount ? `; not checked: ${unchecked.join(', ')}${uncheckedCount > 10 ? ` and ${uncheckedCount - 10} more` : ''}` : '';
  const unlisted = more.failed + more.passed + more.other;
  if (unlisted > 0) {
    const text = `${unlisted} more finding(s) not listed (at most ${MAX_VULN_FINDINGS_LISTED} are): ${more.failed} failed, ${more.passed} allowed, ${more.other} suppressed or not evaluable${more.first ? `; the first failed: ${more.first}` : ''}`;
    checks.push(more.failed ? failed('vuln.more', text, { failed: more.failed, passed: more.passed, suppressed: more.other }) : passed('vuln.more', text, { failed: 0, passed: more.passed, suppressed: more.other }));
  }
  const details = { checkedComponents, totalComponents: input.components.length, records: database.recordCount, findings, unchecked: uncheckedCount };
  checks.unshift(overflow
    ? failed('vuln.scan', `the SBOM's components match more than ${MAX_VULN_EVALUATIONS} (component, advisory) pairs, the limit of one scan; refusing rather than checking only part of it (${summary} before stopping)`, { ...details, maxEvaluations: MAX_VULN_EVALUATIONS })
    : passed('vuln.scan', `${summary}${uncheckedNote}`, details));
  return checks;
}

// An SBOM of 10,000 components against an OSV database of 200,000 records, both generated: ours is
// the whole offline path (SBOM bytes → depth guard, JSON.parse, official-schema validation,
// normalisation; OSV bytes → depth guard, JSON.parse, per-record shape checks, index; matching with
// each ecosystem's version ordering and CVSS scoring) against the floor of JSON.parse of the same
// two inputs. Target: ours ≤ 3× the peer.
import { parseSBOMBytes, allComponents } from '../attest/sbom/index.ts';
import { loadOSVDatabase, checkVulnerabilities, validateVulnerabilityPolicy } from '../attest/osv/index.ts';
import { cyclonedx, hex } from '../test/fixtures/sbom/sbom.ts';
import { osvRecord, range } from '../test/fixtures/sbom/osv.ts';
import { result, type BenchResult } from './lib.ts';

const COMPONENTS = 10_000;
const RECORDS = 200_000;
const PACKAGES = 40_000; // distinct vulnerable packages in the database
const ROUNDS = 3;

const ECOS = [
  { eco: 'npm', purl: (n: string, v: string) => `pkg:npm/${n}@${v}`, ver: (i: number) => `${i % 7}.${i % 13}.${i % 5}`, rtype: 'SEMVER' },
  { eco: 'PyPI', purl: (n: string, v: string) => `pkg:pypi/${n}@${v}`, ver: (i: number) => `${i % 7}.${i % 13}${i % 3 === 0 ? 'rc1' : ''}`, rtype: 'ECOSYSTEM' },
  { eco: 'Maven', purl: (n: string, v: string) => `pkg:maven/org.example${n.length % 5}/${n}@${v}`, ver: (i: number) => `${i % 7}.${i % 13}.${i % 5}${i % 4 === 0 ? '-RC1' : ''}`, rtype: 'ECOSYSTEM' },
  { eco: 'Go', purl: (n: string, v: string) => `pkg:golang/github.com/example/${n}@v${v}`, ver: (i: number) => `${i % 7}.${i % 13}.${i % 5}`, rtype: 'SEMVER' },
] as const;

function osvName(e: (typeof ECOS)[number], n: string): string {
  if (e.eco === 'Maven') return `org.example${n.length % 5}:${n}`;
  if (e.eco === 'Go') return `github.com/example/${n}`;
  return n;
}

function generate(): { sbom: string; osv: string; expectedHits: number } {
  const records: unknown[] = new Array(RECORDS);
  for (let r = 0; r < RECORDS; r++) {
    const p = r % PACKAGES;
    const e = ECOS[p % ECOS.length]!;
    const name = `pkg-${p}`;
    const rec = osvRecord({
      id: `GHSA-${(r * 7919).toString(36).padStart(4, '0')}-${r.toString(36).padStart(4, '0')}-bench`,
      aliases: [`CVE-2024-${100000 + r}`],
      severity: [{ type: 'CVSS_V3', score: r % 2 ? 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' : 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N' }],
      databaseSeverity: r % 2 ? 'CRITICAL' : 'LOW',
      affected: [{ ecosystem: e.eco, name: osvName(e, name), ranges: [range(e.rtype, ['introduced', '0'], ['fixed', e.ver(r + 3)])] }],
    });
    (rec as Record<string, unknown>).details = `A generated advisory for ${name}: an attacker who controls input can trigger the flaw. Upgrade to a fixed version.`;
    (rec as Record<string, unknown>).references = [{ type: 'ADVISORY', url: `https://example.invalid/advisories/${r}` }, { type: 'PACKAGE', url: `https://example.invalid/packages/${name}` }];
    records[r] = rec;
  }
  const components = [];
  let expectedHits = 0;
  for (let i = 0; i < COMPONENTS; i++) {
    // Every fifth component is a package the database knows; the rest are clean names.
    const known = i % 5 === 0;
    const p = known ? (i * 13) % PACKAGES : PACKAGES + i;
    if (known) expectedHits++;
    const e = ECOS[p % ECOS.length]!;
    const name = `pkg-${p}`;
    components.push({ name, version: e.ver(i), purl: e.purl(name, e.ver(i)), licenses: [i % 3 ? 'MIT' : 'expr:Apache-2.0 OR MIT'], hashes: { 'SHA-256': hex(name) } });
  }
  const sbom = JSON.stringify(cyclonedx({ version: '1.6', components, described: { name: 'bench-app', version: '1.0.0', hashes: { 'SHA-256': hex('app') } }, authors: ['bench'] }));
  return { sbom, osv: JSON.stringify(records), expectedHits };
}

function ms(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export async function run(): Promise<BenchResult[]> {
  const { sbom, osv, expectedHits } = generate();
  const policy = validateVulnerabilityPolicy({ maxSeverity: 'high' }, '$.vulnerabilities');
  const now = new Date('2025-01-01T00:00:00Z');
  let findings = 0;
  const ours = () => {
    const doc = parseSBOMBytes(sbom, { source: 'bench.cdx.json' });
    const db = loadOSVDatabase(osv);
    const checks = checkVulnerabilities({ components: allComponents(doc), database: db, policy, now });
    findings = checks.length - 1;
  };
  const peer = () => {
    JSON.parse(sbom);
    JSON.parse(osv);
  };
  // Warm both paths once (JIT, schema compilation), then alternate rounds so drift hits both.
  ours();
  peer();
  const o: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    p.push(ms(peer));
    o.push(ms(ours));
  }
  if (findings === 0 || findings > expectedHits * 10) throw new Error(`implausible finding count ${findings} for ${expectedHits} known components`);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const mo = med(o);
  const mp = med(p);
  const mb = (s: string) => (Buffer.byteLength(s) / 1048576).toFixed(0);
  return [
    result(`SBOM ${COMPONENTS} components (${mb(sbom)} MiB) × OSV ${RECORDS} records (${mb(osv)} MiB): parse+validate+match, ${findings} findings`, mo, mp, 'JSON.parse of both inputs', 'ms', {
      text: '≤ 3x JSON.parse',
      met: mo / mp <= 3,
    }),
  ];
}

if (import.meta.main) {
  for (const r of await run()) console.log(JSON.stringify(r));
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  loadOSVDatabase,
  buildOSVDatabase,
  evaluateAffected,
  validateOSVRecord,
  cvssBaseScore,
  roundup31,
  ecosystemOf,
  checkVulnerabilities,
  validateVulnerabilityPolicy,
  OSVError,
  type OSVAffected,
  type VulnerabilityComponent,
} from '../../attest/osv/index.ts';
import { parseOpenVEX } from '../../attest/vex/index.ts';
import { parsePurl } from '../../attest/sbom/purl.ts';
import { orderings } from '../../attest/version/index.ts';
import { PolicyError } from '../../attest/errors.ts';
import { osvRecord, range, openvex, type RangeSpec } from '../fixtures/sbom/osv.ts';
import { jsonTextDepthExceeds } from '../../attest/osv/database.ts';

function affected(ecosystem: string, ranges: RangeSpec[], versions?: string[]): OSVAffected {
  const r = validateOSVRecord(osvRecord({ id: 'T-1', affected: [{ ecosystem, name: 'p', ranges, ...(versions ? { versions } : {}) }] }), 'test');
  return r.affected![0]!;
}

function status(a: OSVAffected, v: string, scheme: keyof typeof orderings | undefined): string {
  return evaluateAffected(a, v, scheme ? orderings[scheme] : undefined).status;
}

test('OSV ranges: the schema examples evaluate as documented', () => {
  const unfixed = affected('npm', [range('SEMVER', ['introduced', '0'])]);
  assert.equal(status(unfixed, '0.0.1', 'semver'), 'affected');
  assert.equal(status(unfixed, '99.0.0', 'semver'), 'affected');
  const fixed = affected('npm', [range('SEMVER', ['introduced', '0'], ['fixed', '1.0.2'])]);
  assert.equal(status(fixed, '1.0.1', 'semver'), 'affected');
  assert.equal(status(fixed, '1.0.2-rc.1', 'semver'), 'affected', 'a pre-release of the fix is still before the fix');
  assert.equal(status(fixed, '1.0.2', 'semver'), 'unaffected');
  const multi = affected('npm', [range('SEMVER', ['introduced', '1.0.0'], ['fixed', '1.0.2'], ['introduced', '3.0.0'], ['fixed', '3.2.5'])]);
  for (const [v, want] of [['0.9.0', 'unaffected'], ['1.0.0', 'affected'], ['1.0.2', 'unaffected'], ['2.5.0', 'unaffected'], ['3.0.0', 'affected'], ['3.2.4', 'affected'], ['3.2.5', 'unaffected']] as const) {
    assert.equal(status(multi, v, 'semver'), want, v);
  }
  const last = affected('PyPI', [range('ECOSYSTEM', ['introduced', '0'], ['last_affected', '2.1.214'])]);
  assert.equal(status(last, '2.1.214', 'pep440'), 'affected', 'last_affected is inclusive');
  assert.equal(status(last, '2.1.214.post1', 'pep440'), 'unaffected');
  assert.equal(status(last, '2.1.215', 'pep440'), 'unaffected');
});

test('OSV ranges: events are evaluated in sorted order, not file order', () => {
  const shuffled = affected('npm', [range('SEMVER', ['fixed', '3.2.5'], ['introduced', '3.0.0'], ['fixed', '1.0.2'], ['introduced', '1.0.0'])]);
  assert.equal(status(shuffled, '1.0.1', 'semver'), 'affected');
  assert.equal(status(shuffled, '2.0.0', 'semver'), 'unaffected');
  assert.equal(status(shuffled, '3.1.0', 'semver'), 'affected');
});

test('OSV ranges: limit events bound the range; "*" is infinity', () => {
  const limited = affected('npm', [range('SEMVER', ['introduced', '1.0.0'], ['limit', '2.0.0'])]);
  assert.equal(status(limited, '1.5.0', 'semver'), 'affected');
  assert.equal(status(limited, '2.0.0', 'semver'), 'unaffected');
  assert.equal(status(limited, '0.5.0', 'semver'), 'unaffected');
  const star = affected('npm', [range('SEMVER', ['introduced', '1.0.0'], ['limit', '*'])]);
  assert.equal(status(star, '99.0.0', 'semver'), 'affected');
});

test('OSV ranges: each ecosystem ordering decides ECOSYSTEM ranges', () => {
  const deb = affected('Debian:12', [range('ECOSYSTEM', ['introduced', '0'], ['fixed', '3.0.11-1~deb12u1'])]);
  assert.equal(status(deb, '3.0.11-1~deb12u0', 'debian'), 'affected');
  assert.equal(status(deb, '3.0.9-1', 'debian'), 'affected');
  assert.equal(status(deb, '3.0.11-1~deb12u1', 'debian'), 'unaffected');
  assert.equal(status(deb, '3.0.11-1', 'debian'), 'unaffected', 'the tilde makes the fix sort before 3.0.11-1');
  assert.equal(status(deb, '1:0.1', 'debian'), 'unaffected', 'an epoch outranks the upstream version');
  const apk = affected('Alpine:v3.18', [range('ECOSYSTEM', ['introduced', '0'], ['fixed', '1.36.1-r2'])]);
  assert.equal(status(apk, '1.36.1-r1', 'apk'), 'affected');
  assert.equal(status(apk, '1.36.1_rc1-r9', 'apk'), 'affected');
  assert.equal(status(apk, '1.36.1-r2', 'apk'), 'unaffected');
  const mvn = affected('Maven', [range('ECOSYSTEM', ['introduced', '2.0-beta9'], ['fixed', '2.15.0'])]);
  assert.equal(status(mvn, '2.14.1', 'maven'), 'affected');
  assert.equal(status(mvn, '2.15.0-rc1', 'maven'), 'affected');
  assert.equal(status(mvn, '2.0-alpha1', 'maven'), 'unaffected');
  assert.equal(status(mvn, '2.15.0', 'maven'), 'unaffected');
  const py = affected('PyPI', [range('ECOSYSTEM', ['introduced', '1.0'], ['fixed', '1.2'])]);
  assert.equal(status(py, '1.2rc1', 'pep440'), 'affected');
  assert.equal(status(py, '1.2.dev0', 'pep440'), 'affected');
  assert.equal(status(py, '1.2.0', 'pep440'), 'unaffected');
  assert.equal(status(py, '1.0.dev1', 'pep440'), 'unaffected', 'a dev release of 1.0 precedes 1.0');
});

test('OSV ranges: Go SEMVER ranges accept v-prefixed component versions', () => {
  const go = affected('Go', [range('SEMVER', ['introduced', '0'], ['fixed', '0.17.0'])]);
  assert.equal(status(go, 'v0.16.0', 'go'), 'affected');
  assert.equal(status(go, 'v0.17.0', 'go'), 'unaffected');
  assert.equal(status(go, 'v0.0.0-20220101000000-abcdefabcdef', 'go'), 'affected');
});

test('OSV ranges: explicit versions lists, GIT ranges skipped, unorderable versions reported', () => {
  const listed = affected('PyPI', [], ['1.0', '1.1']);
  assert.equal(status(listed, '1.1', 'pep440'), 'affected');
  assert.equal(status(listed, '1.1.0', 'pep440'), 'affected', 'PEP 440 equal spelling');
  assert.equal(status(listed, '1.2', 'pep440'), 'unaffected');
  const git = affected('npm', [range('GIT', ['introduced', 'a'.repeat(40)], ['fixed', 'b'.repeat(40)])]);
  const g = evaluateAffected(git, '1.0.0', orderings.semver);
  assert.equal(g.status, 'unaffected');
  assert.match((g as { skipped: string[] }).skipped[0]!, /GIT range/);
  const semver = affected('npm', [range('SEMVER', ['introduced', '0'], ['fixed', '2.0.0'])]);
  const bad = evaluateAffected(semver, 'not-a-version', orderings.semver);
  assert.equal(bad.status, 'unknown');
  assert.match((bad as { why: string[] }).why[0]!, /cannot be ordered/);
  const badEvent = affected('npm', [range('SEMVER', ['introduced', '0'], ['fixed', '2.0'])]);
  assert.equal(evaluateAffected(badEvent, '1.0.0', orderings.semver).status, 'unknown');
  const noOrdering = affected('RubyGems', [range('ECOSYSTEM', ['introduced', '0'], ['fixed', '2.0'])]);
  assert.equal(evaluateAffected(noOrdering, '1.0', undefined).status, 'unknown');
});

test('CVSS v3.x base scores follow the specification formula', () => {
  const cases: Array<[string, number]> = [
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10.0],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N', 6.8],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1],
    ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', 7.5],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N', 5.3],
    ['CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N', 1.6],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0],
    ['CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 8.8],
    ['CVSS:3.1/A:H/I:H/C:H/S:U/UI:N/PR:N/AC:L/AV:N/E:P/RL:O', 9.8],
  ];
  for (const [v, s] of cases) assert.equal(cvssBaseScore(v).baseScore, s, v);
  assert.equal(roundup31(4.00002), 4.1);
  assert.equal(roundup31(4.00000000001), 4.0, 'float noise below 1e-5 does not round up');
});

test('CVSS v2 and v4.0 base scores (v4.0 values from FIRST\'s reference calculator)', () => {
  assert.equal(cvssBaseScore('AV:N/AC:L/Au:N/C:P/I:P/A:P').baseScore, 7.5);
  assert.equal(cvssBaseScore('AV:N/AC:M/Au:N/C:N/I:P/A:N').baseScore, 4.3);
  assert.equal(cvssBaseScore('AV:N/AC:L/Au:N/C:C/I:C/A:C').baseScore, 10.0);
  const v4: Array<[string, number]> = [
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 9.3],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N', 5.1],
    ['CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N', 1.0],
    ['CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 8.5],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N', 0],
    ['CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:L/VI:N/VA:L/SC:H/SI:L/SA:L', 6.2],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:N/VA:L/SC:H/SI:L/SA:H', 6.3],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:L/VI:H/VA:N/SC:L/SI:L/SA:N', 7.0],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:N/SC:L/SI:H/SA:N', 8.3],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:A/VC:L/VI:H/VA:H/SC:L/SI:N/SA:H', 8.2],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:L/VI:H/VA:L/SC:N/SI:N/SA:L', 7.2],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:L/VA:L/SC:H/SI:H/SA:H', 6.4],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U/CR:L', 9.3],
  ];
  for (const [v, s] of v4) assert.equal(cvssBaseScore(v).baseScore, s, v);
});

test('CVSS: malformed vectors are typed errors', () => {
  for (const v of [
    '',
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H',
    'CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    'CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1',
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/',
    'CVSS:5.0/AV:N',
    'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N',
    'CVSS:3.1/' + 'AV:N/'.repeat(200),
  ]) {
    assert.throws(() => cvssBaseScore(v), (e: unknown) => e instanceof OSVError && e.code === 'CVSS_INVALID', v);
  }
});

test('purl → OSV ecosystem: names, releases and orderings', () => {
  const e = (p: string) => ecosystemOf(parsePurl(p));
  assert.deepEqual(
    { ...e('pkg:npm/%40angular/core@16.0.0'), ordering: undefined },
    { base: 'npm', release: undefined, name: '@angular/core', ordering: undefined, version: '16.0.0' },
  );
  assert.equal(e('pkg:npm/@scope/Pkg@1.0.0')!.name, '@scope/Pkg', 'npm names stay case-sensitive');
  assert.equal(e('pkg:pypi/Django_REST.framework@3.0')!.name, 'django-rest-framework');
  assert.equal(e('pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1')!.name, 'org.apache.logging.log4j:log4j-core');
  assert.equal(e('pkg:golang/github.com/BurntSushi/toml@v1.2.0')!.name, 'github.com/BurntSushi/toml');
  assert.equal(e('pkg:cargo/serde@1.0.0')!.base, 'crates.io');
  const deb = e('pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl&distro=debian-12')!;
  assert.deepEqual([deb.base, deb.release, deb.name, deb.ordering?.scheme], ['Debian', '12', 'openssl', 'debian']);
  assert.equal(e('pkg:deb/debian/bash@5.2?distro=bookworm')!.release, '12');
  const apk = e('pkg:apk/alpine/busybox-binsh@1.36.1-r5?arch=x86_64&upstream=busybox&distro=3.18.4')!;
  assert.deepEqual([apk.base, apk.release, apk.name, apk.ordering?.scheme], ['Alpine', 'v3.18', 'busybox', 'apk']);
  assert.equal(e('pkg:gem/rails@7.0.0'), undefined);
  assert.equal(e('pkg:deb/ubuntu/bash@5.1'), undefined);
});

test('OSV database: JSON array and JSON lines load into the same index', () => {
  const recs = [
    osvRecord({ id: 'GHSA-aaaa-bbbb-cccc', aliases: ['CVE-2024-0001'], affected: [{ ecosystem: 'npm', name: 'left-pad', ranges: [range('SEMVER', ['introduced', '0'], ['fixed', '1.3.0'])] }] }),
    osvRecord({ id: 'PYSEC-1', affected: [{ ecosystem: 'PyPI', name: 'Foo_Bar', ranges: [range('ECOSYSTEM', ['introduced', '0'])] }] }),
  ];
  const a = loadOSVDatabase(Buffer.from(JSON.stringify(recs)));
  const l = loadOSVDatabase(recs.map((r) => JSON.stringify(r)).join('\n') + '\n\n');
  for (const db of [a, l]) {
    assert.equal(db.recordCount, 2);
    assert.equal(db.lookup('npm', 'left-pad').length, 1);
    assert.equal(db.lookup('PyPI', 'foo-bar').length, 1, 'PyPI names are indexed PEP 503-normalised');
    assert.equal(db.byId('CVE-2024-0001')?.id, 'GHSA-aaaa-bbbb-cccc');
    assert.equal(db.lookup('npm', 'Left-Pad').length, 0);
  }
});

test('OSV database: malformed, truncated, hostile input is refused with a typed error', () => {
  const good = JSON.stringify(osvRecord({ id: 'X-1', affected: [{ ecosystem: 'npm', name: 'a', ranges: [range('SEMVER', ['introduced', '0'])] }] }));
  const cases: Array<[string, string | Uint8Array]> = [
    ['empty', '   \n'],
    ['not JSON', 'hello'],
    ['truncated array', `[${good}`],
    ['truncated line', `${good}\n${good.slice(0, 40)}`],
    ['object instead of array', '"str"'],
    ['record without id', JSON.stringify([{ affected: [] }])],
    ['two kinds in one event', JSON.stringify([{ id: 'X', affected: [{ package: { ecosystem: 'npm', name: 'a' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1.0.0' }] }] }] }])],
    ['non-string version', JSON.stringify([{ id: 'X', affected: [{ package: { ecosystem: 'npm', name: 'a' }, versions: [1] }] }])],
    ['events not an array', JSON.stringify([{ id: 'X', affected: [{ package: { ecosystem: 'npm', name: 'a' }, ranges: [{ type: 'SEMVER', events: {} }] }] }])],
    ['package without name', JSON.stringify([{ id: 'X', affected: [{ package: { ecosystem: 'npm' } }] }])],
    ['deep nesting', `[{"id":"X","database_specific":${'['.repeat(100_000)}${']'.repeat(100_000)}}]`],
    ['invalid UTF-8', new Uint8Array([0x5b, 0xff, 0xfe, 0x5d])],
  ];
  for (const [name, input] of cases) {
    assert.throws(() => loadOSVDatabase(input), (e: unknown) => e instanceof OSVError || (e instanceof Error && 'code' in e && /^ATTEST_|^OSV_/.test(String((e as { code: string }).code))), name);
  }
  assert.throws(() => loadOSVDatabase('[]', { maxBytes: 1 }), /limit/);
  assert.throws(() => buildOSVDatabase([null]), OSVError);
});

const NOW = new Date('2024-07-01T00:00:00Z');

function db() {
  return buildOSVDatabase([
    osvRecord({
      id: 'GHSA-crit-0001',
      aliases: ['CVE-2024-1111'],
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
      affected: [{ ecosystem: 'npm', name: 'lodash', ranges: [range('SEMVER', ['introduced', '0'], ['fixed', '4.17.21'])] }],
    }),
    osvRecord({
      id: 'GHSA-med-0002',
      databaseSeverity: 'MODERATE',
      affected: [{ ecosystem: 'npm', name: 'lodash', ranges: [range('SEMVER', ['introduced', '4.0.0'], ['fixed', '4.17.19'])] }],
    }),
    osvRecord({
      id: 'PYSEC-2024-1',
      severity: [{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N' }],
      affected: [{ ecosystem: 'PyPI', name: 'requests', ranges: [range('ECOSYSTEM', ['introduced', '2.0'], ['fixed', '2.32.0'])] }],
    }),
    osvRecord({ id: 'NOSEV-1', affected: [{ ecosystem: 'crates.io', name: 'smallvec', ranges: [range('SEMVER', ['introduced', '0'], ['fixed', '1.6.1'])] }] }),
    osvRecord({ id: 'WITHDRAWN-1', withdrawn: '2024-02-01T00:00:00Z', databaseSeverity: 'CRITICAL', affected: [{ ecosystem: 'npm', name: 'lodash', ranges: [range('SEMVER', ['introduced', '0'])] }] }),
    osvRecord({
      id: 'DSA-5000-1',
      databaseSeverity: 'HIGH',
      affected: [
        { ecosystem: 'Debian:12', name: 'openssl', ranges: [range('ECOSYSTEM', ['introduced', '0'], ['fixed', '3.0.11-1~deb12u1'])] },
        { ecosystem: 'Debian:11', name: 'openssl', ranges: [range('ECOSYSTEM', ['introduced', '0'], ['fixed', '1.1.1w-0+deb11u1'])] },
      ],
    }),
    osvRecord({ id: 'GO-2024-1', databaseSeverity: 'LOW', affected: [{ ecosystem: 'Go', name: 'golang.org/x/net', ranges: [range('SEMVER', ['introduced', '0'], ['fixed', '0.17.0'])] }] }),
  ]);
}

const comps: VulnerabilityComponent[] = [
  { name: 'lodash', version: '4.17.15', purl: 'pkg:npm/lodash@4.17.15' },
  { name: 'requests', version: '2.31.0', purl: 'pkg:pypi/requests@2.31.0' },
  { name: 'smallvec', version: '1.6.0', purl: 'pkg:cargo/smallvec@1.6.0' },
  { name: 'libssl3', version: '3.0.11-1~deb12u2', purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?upstream=openssl&distro=debian-12' },
  { name: 'x/net', version: 'v0.10.0', purl: 'pkg:golang/golang.org/x/net@v0.10.0' },
  { name: 'no-purl', version: '1.0' },
  { name: 'rails', purl: 'pkg:gem/rails@7.0.0' },
];

function byId(checks: ReturnType<typeof checkVulnerabilities>) {
  return Object.fromEntries(checks.map((c) => [c.id, c]));
}

test('checkVulnerabilities: findings, severity threshold, reasons naming component, range and severity', () => {
  const policy = validateVulnerabilityPolicy({ maxSeverity: 'medium', unknownSeverity: 'fail' }, '$.vulnerabilities');
  const checks = checkVulnerabilities({ components: comps, database: db(), policy, now: NOW });
  const c = byId(checks);
  assert.equal(c['vuln.GHSA-crit-0001']!.status, 'failed');
  assert.match(c['vuln.GHSA-crit-0001']!.reason, /pkg:npm\/lodash@4\.17\.15/);
  assert.match(c['vuln.GHSA-crit-0001']!.reason, /range SEMVER introduced 0, fixed 4\.17\.21/);
  assert.match(c['vuln.GHSA-crit-0001']!.reason, /CVSS 9\.8/);
  assert.match(c['vuln.GHSA-crit-0001']!.reason, /CRITICAL above allowed MEDIUM/);
  assert.equal(c['vuln.GHSA-med-0002']!.status, 'passed', 'MODERATE is within medium');
  assert.equal(c['vuln.PYSEC-2024-1']!.status, 'passed', 'CVSS 4.0 5.1 is medium');
  assert.match(c['vuln.PYSEC-2024-1']!.reason, /CVSS 5\.1/);
  assert.equal(c['vuln.NOSEV-1']!.status, 'failed', 'unknown severity fails under unknownSeverity=fail');
  assert.match(c['vuln.NOSEV-1']!.reason, /no usable severity/);
  assert.equal(c['vuln.WITHDRAWN-1'], undefined, 'withdrawn records do not match');
  assert.equal(c['vuln.DSA-5000-1'], undefined, 'Debian 12 package at the fixed version is unaffected; the Debian 11 entry does not apply');
  assert.equal(c['vuln.GO-2024-1']!.status, 'passed');
  assert.equal(c['vuln.scan']!.status, 'passed');
  assert.match(c['vuln.scan']!.reason, /5 of 7 components checked/);
  assert.match(c['vuln.scan']!.reason, /no-purl/);

  const byScore = checkVulnerabilities({ components: comps, database: db(), policy: validateVulnerabilityPolicy({ maxSeverity: 9.8, unknownSeverity: 'allow' }, '$'), now: NOW });
  const s = byId(byScore);
  assert.equal(s['vuln.GHSA-crit-0001']!.status, 'passed', '9.8 is not above 9.8');
  assert.equal(s['vuln.NOSEV-1']!.status, 'passed');
  const strict = byId(checkVulnerabilities({ components: comps, database: db(), policy: validateVulnerabilityPolicy({}, '$'), now: NOW }));
  assert.equal(strict['vuln.GO-2024-1']!.status, 'failed', 'default maxSeverity none: any finding fails');
});

test('checkVulnerabilities: Debian release scoping and an older Debian version', () => {
  const old = [{ name: 'libssl3', version: '3.0.9-1', purl: 'pkg:deb/debian/libssl3@3.0.9-1?upstream=openssl&distro=debian-12' }];
  const c = byId(checkVulnerabilities({ components: old, database: db(), policy: validateVulnerabilityPolicy({ maxSeverity: 'medium' }, '$'), now: NOW }));
  assert.equal(c['vuln.DSA-5000-1']!.status, 'failed');
  assert.match(c['vuln.DSA-5000-1']!.reason, /Debian:12/);
  const noRelease = [{ name: 'libssl3', version: '3.0.9-1', purl: 'pkg:deb/debian/libssl3@3.0.9-1?upstream=openssl' }];
  const n = byId(checkVulnerabilities({ components: noRelease, database: db(), policy: validateVulnerabilityPolicy({ maxSeverity: 'medium' }, '$'), now: NOW }));
  assert.match(n['vuln.DSA-5000-1']!.reason, /does not name the distro release/);
});

test('checkVulnerabilities: ignore entries by id or alias, and expired ignores stop suppressing', () => {
  const active = validateVulnerabilityPolicy({ maxSeverity: 'low', ignore: [{ id: 'CVE-2024-1111', expires: '2024-12-31', reason: 'not reachable' }] }, '$');
  const a = byId(checkVulnerabilities({ components: comps.slice(0, 1), database: db(), policy: active, now: NOW }));
  assert.equal(a['vuln.GHSA-crit-0001']!.status, 'passed');
  assert.match(a['vuln.GHSA-crit-0001']!.reason, /ignored by policy \(CVE-2024-1111\) until 2025-01-01T00:00:00\.000Z: not reachable/);
  assert.equal(a['vuln.GHSA-med-0002']!.status, 'failed', 'an ignore covers only its own id');
  const expired = validateVulnerabilityPolicy({ maxSeverity: 'low', ignore: [{ id: 'GHSA-crit-0001', expires: '2024-06-30T23:59:59Z' }] }, '$');
  const e = byId(checkVulnerabilities({ components: comps.slice(0, 1), database: db(), policy: expired, now: NOW }));
  assert.equal(e['vuln.GHSA-crit-0001']!.status, 'failed');
  assert.match(e['vuln.GHSA-crit-0001']!.reason, /expired at 2024-06-30T23:59:59\.000Z and no longer suppresses it/);
});

// checkVulnerabilities receives only VEX that verified against the policy's VEX signers
// (attest/vex/signed.ts); here the policy just has to name some (attest/policy.ts validates them).
const VEX_SIGNERS = { keys: [{ keyid: 'security-team', publicKey: '(validated by attest/policy.ts)' }] };

test('checkVulnerabilities: OpenVEX not_affected suppresses; affected and under_investigation do not', () => {
  const policy = validateVulnerabilityPolicy({ maxSeverity: 'low', vex: VEX_SIGNERS }, '$');
  const vex = (status: 'not_affected' | 'affected' | 'under_investigation' | 'fixed', product: string, extra: Record<string, string> = {}) =>
    parseOpenVEX(openvex([{ vulnerability: 'CVE-2024-1111', products: [product], status, ...(status === 'not_affected' ? { justification: 'vulnerable_code_not_in_execute_path' } : {}), ...extra }]), 'test.vex.json');
  const run = (docs: ReturnType<typeof vex>[], p = policy) => byId(checkVulnerabilities({ components: comps.slice(0, 1), database: db(), policy: p, vex: docs, now: NOW }))['vuln.GHSA-crit-0001']!;
  const na = run([vex('not_affected', 'pkg:npm/lodash@4.17.15')]);
  assert.equal(na.status, 'not-applicable');
  assert.match(na.reason, /suppressed by OpenVEX .* \(not_affected: vulnerable_code_not_in_execute_path\)/);
  assert.equal(run([vex('not_affected', 'pkg:npm/lodash')]).status, 'not-applicable', 'a versionless product covers every version');
  assert.equal(run([vex('not_affected', 'pkg:npm/lodash@4.17.20')]).status, 'failed', 'another version is not covered');
  assert.equal(run([vex('not_affected', 'pkg:npm/underscore@4.17.15')]).status, 'failed');
  assert.equal(run([vex('affected', 'pkg:npm/lodash@4.17.15')]).status, 'failed');
  assert.equal(run([vex('under_investigation', 'pkg:npm/lodash@4.17.15')]).status, 'failed');
  assert.equal(run([vex('not_affected', 'pkg:npm/lodash@4.17.15')], validateVulnerabilityPolicy({ maxSeverity: 'low', vex: false }, '$')).status, 'failed', 'vex:false ignores VEX');
  assert.equal(run([vex('not_affected', 'pkg:npm/lodash@4.17.15')], validateVulnerabilityPolicy({ maxSeverity: 'low' }, '$')).status, 'failed', 'no VEX signers named: VEX is ignored by default');
  assert.throws(() => validateVulnerabilityPolicy({ maxSeverity: 'low', vex: true }, '$'), /\$\.vex: must name who may make VEX statements/);
  // A later "affected" statement overrides an earlier not_affected one.
  const later = vex('affected', 'pkg:npm/lodash@4.17.15', { timestamp: '2024-06-15T00:00:00Z' });
  const earlier = vex('not_affected', 'pkg:npm/lodash@4.17.15', { timestamp: '2024-06-10T00:00:00Z' });
  assert.equal(run([later, earlier]).status, 'failed');
  const sub = parseOpenVEX(openvex([{ vulnerability: 'GHSA-crit-0001', products: ['pkg:oci/app@sha256%3Aabc'], subcomponents: ['pkg:npm/lodash@4.17.15'], status: 'not_affected', impact_statement: 'not used' }]), 'sub.json');
  assert.equal(run([sub]).status, 'not-applicable', 'subcomponents name the component');
});

test('checkVulnerabilities: unevaluable versions fail by default, or are ignored when the policy says so', () => {
  const comp = [{ name: 'lodash', version: 'latest', purl: 'pkg:npm/lodash@latest' }];
  const f = byId(checkVulnerabilities({ components: comp, database: db(), policy: validateVulnerabilityPolicy({ maxSeverity: 'critical' }, '$'), now: NOW }));
  assert.equal(f['vuln.GHSA-crit-0001']!.status, 'failed');
  assert.match(f['vuln.GHSA-crit-0001']!.reason, /cannot tell whether pkg:npm\/lodash@latest is affected/);
  const i = byId(checkVulnerabilities({ components: comp, database: db(), policy: validateVulnerabilityPolicy({ maxSeverity: 'critical', unevaluable: 'ignore' }, '$'), now: NOW }));
  assert.equal(i['vuln.GHSA-crit-0001']!.status, 'not-applicable');
  const vex = parseOpenVEX(openvex([{ vulnerability: 'CVE-2024-1111', products: ['pkg:npm/lodash'], status: 'not_affected', justification: 'vulnerable_code_not_present' }]), 'v');
  const v = byId(checkVulnerabilities({ components: comp, database: db(), policy: validateVulnerabilityPolicy({ maxSeverity: 'critical', vex: VEX_SIGNERS }, '$'), vex: [vex], now: NOW }));
  assert.equal(v['vuln.GHSA-crit-0001']!.status, 'not-applicable', 'VEX not_affected also settles an undecidable match');
  assert.match(v['vuln.GHSA-crit-0001']!.reason, /suppressed by OpenVEX/);
  const ig = byId(checkVulnerabilities({ components: comp, database: db(), policy: validateVulnerabilityPolicy({ maxSeverity: 'critical', ignore: [{ id: 'GHSA-crit-0001', expires: '2030-01-01' }] }, '$'), now: NOW }));
  assert.equal(ig['vuln.GHSA-crit-0001']!.status, 'passed');
});

test('validateVulnerabilityPolicy names the offending path', () => {
  const cases: Array<[unknown, string]> = [
    ['x', '$.vulnerabilities'],
    [{ maxSeverity: 11 }, '$.vulnerabilities.maxSeverity'],
    [{ maxSeverity: 'severe' }, '$.vulnerabilities.maxSeverity'],
    [{ unknownSeverity: 'maybe' }, '$.vulnerabilities.unknownSeverity'],
    [{ ignore: {} }, '$.vulnerabilities.ignore'],
    [{ ignore: [{ id: 'CVE-1', expires: '2024-01-01' }, { id: 'CVE-2' }] }, '$.vulnerabilities.ignore[1].expires'],
    [{ ignore: [{ id: 'CVE-1', expires: '2024-02-30' }] }, '$.vulnerabilities.ignore[0].expires'],
    [{ ignore: [{ id: 'CVE-1', expires: 'tomorrow' }] }, '$.vulnerabilities.ignore[0].expires'],
    [{ ignore: [{ id: '', expires: '2024-01-01' }] }, '$.vulnerabilities.ignore[0].id'],
    [{ ignore: [{ id: 'CVE-1', expires: '2024-01-01', until: 'x' }] }, '$.vulnerabilities.ignore[0].until'],
    [{ vex: 'yes' }, '$.vulnerabilities.vex'],
    [{ maxSeverty: 'low' }, '$.vulnerabilities.maxSeverty'],
  ];
  for (const [value, path] of cases) {
    assert.throws(() => validateVulnerabilityPolicy(value, '$.vulnerabilities'), (e: unknown) => e instanceof PolicyError && e.path === path, `${JSON.stringify(value)} → ${path}`);
  }
});

test('OSV depth guard: skips string contents, honours escapes, counts real nesting', () => {
  assert.equal(jsonTextDepthExceeds('[{"a":"[[[[[[[[[["}]', 3), false, 'brackets inside strings do not count');
  assert.equal(jsonTextDepthExceeds(String.raw`[{"a":"\\"}, [[[1]]]]`, 3), true, 'an escaped backslash ends before the quote');
  assert.equal(jsonTextDepthExceeds(String.raw`[{"a":"\\\"[[[["}]`, 3), false, 'an escaped quote does not end the string');
  assert.equal(jsonTextDepthExceeds('[[[]]]', 3), false);
  assert.equal(jsonTextDepthExceeds('[[[[]]]]', 3), true);
  assert.equal(jsonTextDepthExceeds('"unterminated [[[[', 1), false);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  parseSBOM,
  parseSBOMBytes,
  checkSBOM,
  analyzeSBOMs,
  validateSBOMPolicy,
  allComponents,
  SBOMError,
  CYCLONEDX_PREDICATE_TYPE,
  SPDX_PREDICATE_TYPE,
} from '../../attest/sbom/index.ts';
import { cyclonedx, spdx, type ComponentSpec } from '../fixtures/sbom/sbom.ts';

const artifact = Buffer.from('tollgate test artifact\n');
const sha256 = createHash('sha256').update(artifact).digest('hex');
const sha512 = createHash('sha512').update(artifact).digest('hex');

const comps: ComponentSpec[] = [
  { name: 'lodash', version: '4.17.21', purl: 'pkg:npm/lodash@4.17.21', licenses: ['MIT'], hashes: { 'SHA-256': 'a'.repeat(64) } },
  { name: 'requests', version: '2.31.0', purl: 'pkg:pypi/requests@2.31.0', licenses: ['expr:Apache-2.0 OR MIT'] },
  {
    name: 'parent',
    version: '1.0.0',
    purl: 'pkg:npm/parent@1.0.0',
    licenses: ['ISC'],
    components: [{ name: 'child', version: '2.0.0', purl: 'pkg:npm/child@2.0.0', licenses: ['BSD-3-Clause'] }],
  },
];

function expectSBOMError(f: () => unknown, code: string, path?: string): SBOMError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SBOMError, `expected SBOMError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (path !== undefined) assert.equal(err.path, path, err.message);
  return err;
}

test('CycloneDX 1.4, 1.5 and 1.6 parse, validate and normalise (nested components flattened)', () => {
  for (const version of ['1.4', '1.5', '1.6'] as const) {
    const doc = parseSBOM(cyclonedx({ version, components: comps, described: { name: 'app', version: '1.0', hashes: { 'SHA-256': sha256 } }, authors: ['Alice'] }), { source: `cdx-${version}` });
    assert.equal(doc.format, 'cyclonedx');
    assert.equal(doc.specVersion, version);
    assert.deepEqual(doc.components.map((c) => c.name), ['lodash', 'requests', 'parent', 'child']);
    assert.deepEqual(doc.components[1]!.licenses, ['Apache-2.0 OR MIT']);
    assert.deepEqual(doc.components[0]!.hashes, [{ alg: 'sha256', value: 'a'.repeat(64) }]);
    assert.equal(doc.described[0]!.name, 'app');
    assert.deepEqual(doc.tools, ['anchore syft 1.0.0']);
    assert.deepEqual(doc.authors, ['Alice']);
    assert.equal(doc.timestamp, '2024-05-01T12:00:00Z');
    assert.equal(allComponents(doc).length, 5);
  }
});

test('SPDX 2.3 parses, validates and normalises; DESCRIBES and documentDescribes both name the subject', () => {
  for (const legacyDescribes of [false, true]) {
    const doc = parseSBOM(
      spdx({
        legacyDescribes,
        describes: ['SPDXRef-app'],
        packages: [
          { id: 'SPDXRef-app', name: 'app', version: '1.0', checksums: { SHA256: sha256 } },
          { name: 'openssl', version: '3.0.11-1~deb12u2', purl: 'pkg:deb/debian/openssl@3.0.11-1~deb12u2?distro=debian-12', concluded: 'Apache-2.0' },
          { name: 'zlib', version: '1.2.13', declared: 'Zlib' },
        ],
      }),
      { source: 'spdx', predicateType: SPDX_PREDICATE_TYPE },
    );
    assert.equal(doc.format, 'spdx');
    assert.equal(doc.described[0]!.name, 'app');
    assert.deepEqual(doc.described[0]!.hashes, [{ alg: 'sha256', value: sha256 }]);
    assert.deepEqual(doc.components.map((c) => [c.name, c.purl, c.licenses]), [
      ['openssl', 'pkg:deb/debian/openssl@3.0.11-1~deb12u2?distro=debian-12', ['Apache-2.0']],
      ['zlib', undefined, ['Zlib']],
    ]);
    assert.deepEqual(doc.tools, ['syft-1.0.0']);
    assert.deepEqual(doc.authors, ['Example Corp']);
  }
});

test('unknown SBOM versions are refused with SBOM_UNSUPPORTED_VERSION', () => {
  expectSBOMError(() => parseSBOM(cyclonedx({ version: '1.3', components: [] })), 'SBOM_UNSUPPORTED_VERSION', '$.specVersion');
  expectSBOMError(() => parseSBOM(cyclonedx({ version: '2.0', components: [] })), 'SBOM_UNSUPPORTED_VERSION', '$.specVersion');
  expectSBOMError(() => parseSBOM({ ...cyclonedx({ version: '1.6', components: [] }), specVersion: 1.6 }), 'SBOM_UNSUPPORTED_VERSION');
  expectSBOMError(() => parseSBOM({ ...spdx({ packages: [] }), spdxVersion: 'SPDX-2.2' }), 'SBOM_UNSUPPORTED_VERSION', '$.spdxVersion');
  expectSBOMError(() => parseSBOM({ '@context': 'https://spdx.org/rdf/3.0.1/spdx-context.jsonld', '@graph': [] }), 'SBOM_UNSUPPORTED_VERSION', '$');
});

test('schema-invalid SBOMs are refused with the path of the violation', () => {
  const bad = (mut: (d: any) => void, version = '1.6') => {
    const d = cyclonedx({ version, components: structuredClone(comps), described: { name: 'app' } }) as any;
    mut(d);
    return d;
  };
  let e = expectSBOMError(() => parseSBOM(bad((d) => (d.components[0].hashes[0].content = 'xyz'))), 'SBOM_SCHEMA_INVALID', '$.components[0].hashes[0].content');
  assert.match(e.message, /must match pattern/);
  expectSBOMError(() => parseSBOM(bad((d) => (d.components[0].hashes[0].alg = 'SHA-999'))), 'SBOM_SCHEMA_INVALID', '$.components[0].hashes[0].alg');
  expectSBOMError(() => parseSBOM(bad((d) => delete d.components[2].components[0].name)), 'SBOM_SCHEMA_INVALID', '$.components[2].components[0]');
  expectSBOMError(() => parseSBOM(bad((d) => (d.components[1].type = 'gadget'))), 'SBOM_SCHEMA_INVALID', '$.components[1].type');
  expectSBOMError(() => parseSBOM(bad((d) => (d.metadata.timestamp = '2024-13-01T00:00:00Z'))), 'SBOM_SCHEMA_INVALID', '$.metadata.timestamp');
  expectSBOMError(() => parseSBOM(bad((d) => (d.components[0].licenses = [{ license: { id: 'Not-A-Licence' } }]))), 'SBOM_SCHEMA_INVALID');
  expectSBOMError(() => parseSBOM(bad((d) => (d.unexpected = true))), 'SBOM_SCHEMA_INVALID', '$.unexpected');
  expectSBOMError(() => parseSBOM(bad((d) => (d.serialNumber = 'not-a-urn'))), 'SBOM_SCHEMA_INVALID', '$.serialNumber');
  expectSBOMError(() => parseSBOM(bad((d) => d.components.push(structuredClone(d.components[0])))), 'SBOM_SCHEMA_INVALID', '$.components');
  expectSBOMError(() => parseSBOM(bad((d) => (d.version = 0))), 'SBOM_SCHEMA_INVALID', '$.version');
  const s = spdx({ packages: [{ name: 'a', checksums: { SHA256: sha256 } }] }) as any;
  s.packages[0].checksums[0].algorithm = 'SHA3000';
  expectSBOMError(() => parseSBOM(s), 'SBOM_SCHEMA_INVALID', '$.packages[0].checksums[0].algorithm');
  const s2 = spdx({ packages: [] }) as any;
  delete s2.documentNamespace;
  e = expectSBOMError(() => parseSBOM(s2), 'SBOM_SCHEMA_INVALID', '$');
  assert.match(e.message, /documentNamespace/);
});

test('hostile SBOM input: not objects, deep nesting, huge documents, predicate mismatch', () => {
  expectSBOMError(() => parseSBOM(null), 'SBOM_MALFORMED', '$');
  expectSBOMError(() => parseSBOM([1, 2]), 'SBOM_MALFORMED', '$');
  expectSBOMError(() => parseSBOM({ hello: 'world' }), 'SBOM_MALFORMED', '$');
  expectSBOMError(() => parseSBOM({ bomFormat: 'SPDX' }), 'SBOM_MALFORMED', '$.bomFormat');
  // Deep nesting as a parsed value (JSON.parse itself copes with it; our walkers must not recurse into it).
  let deep: unknown = {};
  for (let i = 0; i < 100_000; i++) deep = { components: [deep] };
  expectSBOMError(() => parseSBOM({ ...cyclonedx({ version: '1.6', components: [] }), deep }), 'SBOM_MALFORMED', '$');
  // Deep nesting as text is refused before JSON.parse.
  expectSBOMError(() => parseSBOMBytes(`{"bomFormat":"CycloneDX","x":${'['.repeat(50_000)}${']'.repeat(50_000)}}`), 'SBOM_MALFORMED');
  expectSBOMError(() => parseSBOMBytes('{"bomFormat": "CycloneDX", '), 'SBOM_MALFORMED');
  expectSBOMError(() => parseSBOMBytes(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])), 'SBOM_MALFORMED');
  expectSBOMError(() => parseSBOM(cyclonedx({ version: '1.6', components: [] }), { predicateType: SPDX_PREDICATE_TYPE }), 'SBOM_MALFORMED');
  expectSBOMError(() => parseSBOM(cyclonedx({ version: '1.6', components: [] }), { predicateType: 'https://slsa.dev/provenance/v1' }), 'SBOM_MALFORMED');
  assert.equal(parseSBOM(cyclonedx({ version: '1.5', components: [] }), { predicateType: `${CYCLONEDX_PREDICATE_TYPE}/v1.5` }).specVersion, '1.5');
  // A wide (not deep) document is fine: 20,000 components validate.
  const many = Array.from({ length: 20_000 }, (_, i) => ({ name: `p${i}`, version: '1.0.0', purl: `pkg:npm/p${i}@1.0.0`, licenses: ['MIT'] }));
  assert.equal(parseSBOMBytes(JSON.stringify(cyclonedx({ version: '1.6', components: many }))).components.length, 20_000);
});

const policyAll = validateSBOMPolicy(
  {
    required: true,
    licenses: { allow: ['MIT', 'Apache-2.0', 'ISC', 'BSD-3-Clause'] },
    deniedComponents: ['pkg:npm/event-stream', { purl: 'pkg:npm/lodash', versions: '<4.17.21', reason: 'prototype pollution' }],
    requiredFields: { components: ['version', 'purl'], document: ['tool', 'timestamp'] },
  },
  '$.sbom',
);

function statuses(checks: ReturnType<typeof checkSBOM>): Record<string, string> {
  return Object.fromEntries(checks.map((c) => [c.id, c.status]));
}

test('checkSBOM: a good CycloneDX SBOM bound to the artifact passes every check', () => {
  const doc = cyclonedx({ version: '1.6', components: comps, described: { name: 'app', version: '1.0', hashes: { 'SHA-256': sha256, 'SHA-512': sha512 } } });
  const checks = checkSBOM({ sboms: [{ document: doc, source: 'app.cdx.json' }], artifactDigests: { sha256, sha512 }, policy: policyAll });
  assert.deepEqual(statuses(checks), {
    'sbom.present': 'passed',
    'sbom.schema': 'passed',
    'sbom.binding': 'passed',
    'sbom.fields': 'passed',
    'sbom.license': 'passed',
    'sbom.denied-components': 'passed',
  });
  assert.match(checks.find((c) => c.id === 'sbom.binding')!.reason, new RegExp(`sha256:${sha256}`));
});

test('checkSBOM: binding failures — wrong digest, no hash, no described component — and the ways out', () => {
  const other = createHash('sha256').update('other').digest('hex');
  const wrong = cyclonedx({ version: '1.6', components: comps, described: { name: 'app', hashes: { 'SHA-256': other } } });
  let c = checkSBOM({ sboms: [{ document: wrong, source: 'w' }], artifactDigests: { sha256 }, policy: policyAll }).find((x) => x.id === 'sbom.binding')!;
  assert.equal(c.status, 'failed');
  assert.match(c.reason, new RegExp(`expected sha256:${sha256}, found .*sha256:${other}`));
  // sha512-only described component binds through the artifact's sha512.
  const only512 = cyclonedx({ version: '1.5', components: comps, described: { name: 'app', hashes: { 'SHA-512': sha512 } } });
  assert.equal(checkSBOM({ sboms: [{ document: only512, source: 's' }], artifactDigests: { sha256, sha512 }, policy: policyAll }).find((x) => x.id === 'sbom.binding')!.status, 'passed');
  assert.equal(checkSBOM({ sboms: [{ document: only512, source: 's' }], artifactDigests: { sha256 }, policy: policyAll }).find((x) => x.id === 'sbom.binding')!.status, 'failed', 'no common algorithm');
  // A matching sha256 does not excuse a mismatching sha512 on the same component.
  const mixed = cyclonedx({ version: '1.6', components: comps, described: { name: 'app', hashes: { 'SHA-256': sha256, 'SHA-512': 'b'.repeat(128) } } });
  assert.equal(checkSBOM({ sboms: [{ document: mixed, source: 'm' }], artifactDigests: { sha256, sha512 }, policy: policyAll }).find((x) => x.id === 'sbom.binding')!.status, 'failed');
  const none = cyclonedx({ version: '1.6', components: comps });
  c = checkSBOM({ sboms: [{ document: none, source: 'n' }], artifactDigests: { sha256 }, policy: policyAll }).find((x) => x.id === 'sbom.binding')!;
  assert.equal(c.status, 'failed');
  assert.match(c.reason, /does not say what it describes/);
  assert.equal(checkSBOM({ sboms: [{ document: none, source: 'n', subjectMatched: true }], artifactDigests: { sha256 }, policy: policyAll }).find((x) => x.id === 'sbom.binding')!.status, 'passed');
  const unbound = validateSBOMPolicy({ bindToArtifact: false }, '$.sbom');
  assert.equal(checkSBOM({ sboms: [{ document: none, source: 'n' }], artifactDigests: { sha256 }, policy: unbound }).find((x) => x.id === 'sbom.binding')!.status, 'not-applicable');
  assert.equal(checkSBOM({ sboms: [{ document: none, source: 'n' }], artifactDigests: {}, policy: policyAll }).find((x) => x.id === 'sbom.binding')!.status, 'failed');
  // SPDX: a described file or package checksum binds; an undescribed package with the digest does not.
  const spdxFile = spdx({ describes: ['SPDXRef-File-app'], files: [{ id: 'SPDXRef-File-app', name: './app.tar.gz', checksums: { SHA256: sha256, SHA1: 'c'.repeat(40) } }], packages: [{ name: 'x', version: '1', purl: 'pkg:npm/x@1', concluded: 'MIT' }] });
  assert.equal(checkSBOM({ sboms: [{ document: spdxFile, source: 'f' }], artifactDigests: { sha256 }, policy: policyAll }).find((x) => x.id === 'sbom.binding')!.status, 'passed');
  const spdxUndescribed = spdx({ packages: [{ name: 'app', checksums: { SHA256: sha256 } }] });
  assert.equal(checkSBOM({ sboms: [{ document: spdxUndescribed, source: 'u' }], artifactDigests: { sha256 }, policy: policyAll }).find((x) => x.id === 'sbom.binding')!.status, 'failed');
});

test('checkSBOM: licence policy with real expression semantics, NOASSERTION/NONE and unrecognised names', () => {
  const mk = (licenses: string[] | undefined) => cyclonedx({ version: '1.6', components: [{ name: 'x', version: '1.0.0', purl: 'pkg:npm/x@1.0.0', ...(licenses ? { licenses } : {}) }] });
  const run = (licenses: string[] | undefined, lic: Record<string, unknown>) =>
    checkSBOM({ sboms: [{ document: mk(licenses), source: 's' }], artifactDigests: { sha256 }, policy: validateSBOMPolicy({ bindToArtifact: false, licenses: lic }, '$.sbom') }).find((c) => c.id === 'sbom.license')!;
  assert.equal(run(['expr:MIT OR GPL-3.0-only'], { allow: ['MIT'] }).status, 'passed');
  const f = run(['expr:MIT AND GPL-3.0-only'], { allow: ['MIT'] });
  assert.equal(f.status, 'failed');
  assert.match(f.reason, /pkg:npm\/x@1\.0\.0: "MIT AND GPL-3\.0-only": GPL-3\.0-only is not in the allow-list/);
  assert.equal(run(['MIT', 'GPL-3.0-only'], { allow: ['MIT'] }).status, 'failed', 'several CycloneDX licence entries apply together');
  assert.equal(run(['expr:GPL-2.0+'], { allow: ['GPL-2.0-or-later'] }).status, 'passed');
  assert.equal(run(['expr:MIT OR AGPL-3.0-only'], { deny: ['AGPL-3.0-only'] }).status, 'passed');
  assert.equal(run(['AGPL-3.0-only'], { deny: ['AGPL-3.0-only'] }).status, 'failed');
  assert.equal(run(undefined, { allow: ['MIT'] }).status, 'failed', 'missing defaults to deny with an allow-list');
  assert.equal(run(undefined, { allow: ['MIT'], missing: 'allow' }).status, 'passed');
  assert.equal(run(undefined, { deny: ['GPL-3.0-only'] }).status, 'passed', 'missing defaults to allow without an allow-list');
  assert.equal(run(['name:Some Custom License'], { allow: ['MIT'] }).status, 'failed');
  assert.equal(run(['name:Some Custom License'], { allow: ['MIT'], unrecognized: 'allow' }).status, 'passed');
  assert.equal(run(['name:mit'], { allow: ['MIT'] }).status, 'passed', 'a name that is an SPDX id counts as that id');
  const sp = (concluded: string) =>
    checkSBOM({ sboms: [{ document: spdx({ packages: [{ name: 'p', version: '1', concluded }] }), source: 'spdx' }], artifactDigests: {}, policy: validateSBOMPolicy({ bindToArtifact: false, licenses: { allow: ['MIT'], ...(concluded === 'NONE' ? { none: 'allow' } : {}) } }, '$.sbom') }).find((c) => c.id === 'sbom.license')!.status;
  assert.equal(sp('NOASSERTION'), 'failed');
  assert.equal(sp('NONE'), 'passed');
  assert.equal(sp('(MIT OR Apache-2.0)'), 'passed');
  assert.equal(checkSBOM({ sboms: [{ document: mk(['MIT']), source: 's' }], artifactDigests: {}, policy: validateSBOMPolicy({ bindToArtifact: false }, '$.sbom') }).find((c) => c.id === 'sbom.license')!.status, 'not-applicable');
});

test('checkSBOM: denied components by purl pattern and version range', () => {
  const policy = validateSBOMPolicy(
    {
      bindToArtifact: false,
      deniedComponents: [
        'pkg:npm/event-stream',
        'pkg:npm/@evil/*',
        { purl: 'pkg:maven/org.apache.logging.log4j/log4j-core', versions: '>=2.0-beta9 <2.15.0 || =2.16.0', reason: 'Log4Shell' },
        'pkg:pypi/PyYAML@5.3',
        'pkg:golang/github.com/evil*/*',
      ],
    },
    '$.sbom',
  );
  const run = (purl: string) => checkSBOM({ sboms: [{ document: cyclonedx({ version: '1.6', components: [{ name: 'x', version: '1', purl }] }), source: 's' }], artifactDigests: {}, policy }).find((c) => c.id === 'sbom.denied-components')!;
  assert.equal(run('pkg:npm/event-stream@3.3.6').status, 'failed');
  assert.equal(run('pkg:npm/event-stream-safe@1.0.0').status, 'passed');
  assert.equal(run('pkg:npm/%40evil/anything@1.0.0').status, 'failed');
  assert.equal(run('pkg:npm/@good/anything@1.0.0').status, 'passed');
  assert.equal(run('pkg:npm/anything@1.0.0').status, 'passed');
  const l = run('pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1');
  assert.equal(l.status, 'failed');
  assert.match(l.reason, /Log4Shell/);
  assert.equal(run('pkg:maven/org.apache.logging.log4j/log4j-core@2.15.0').status, 'passed');
  assert.equal(run('pkg:maven/org.apache.logging.log4j/log4j-core@2.16.0').status, 'failed');
  assert.equal(run('pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1').status, 'passed');
  assert.equal(run('pkg:maven/org.apache.logging.log4j/log4j-core@2.0-alpha1').status, 'passed');
  assert.equal(run('pkg:pypi/py.yaml@5.3.0').status, 'passed', 'PEP 503: py.yaml is py-yaml, not pyyaml');
  assert.equal(run('pkg:pypi/pyyaml@5.3.0').status, 'failed', 'PyPI names normalise and 5.3 == 5.3.0');
  assert.equal(run('pkg:pypi/pyyaml@5.4').status, 'passed');
  assert.equal(run('pkg:golang/github.com/evilcorp/x@v1.0.0').status, 'failed');
  assert.equal(run('pkg:golang/github.com/goodcorp/x@v1.0.0').status, 'passed');
  const malformed = run('pkg:npm/%zz@1');
  assert.equal(malformed.status, 'failed', 'a malformed purl in the SBOM is a finding, not a crash');
});

test('checkSBOM: required fields and the SBOM-required rule', () => {
  const policy = validateSBOMPolicy({ bindToArtifact: false, requiredFields: { components: ['version', 'purl', 'license', 'hash'], document: ['author', 'tool', 'timestamp'] } }, '$.sbom');
  const doc = cyclonedx({ version: '1.6', components: [{ name: 'bare' }, { name: 'full', version: '1', purl: 'pkg:npm/full@1', licenses: ['MIT'], hashes: { 'SHA-256': 'a'.repeat(64) } }], tools: [], timestamp: '' });
  const c = checkSBOM({ sboms: [{ document: doc, source: 's' }], artifactDigests: {}, policy }).find((x) => x.id === 'sbom.fields')!;
  assert.equal(c.status, 'failed');
  assert.match(c.reason, /no author/);
  assert.match(c.reason, /names no tool/);
  assert.match(c.reason, /no timestamp/);
  assert.match(c.reason, /bare lacks version, purl, license, hash/);
  assert.doesNotMatch(c.reason, /full lacks/);
  assert.deepEqual(statuses(checkSBOM({ sboms: [], artifactDigests: {}, policy: validateSBOMPolicy({ required: true }, '$.sbom') })), { 'sbom.present': 'failed' });
  assert.deepEqual(statuses(checkSBOM({ sboms: [], artifactDigests: {}, policy: validateSBOMPolicy({}, '$.sbom') })), { 'sbom.present': 'not-applicable' });
  const spdxOnly = validateSBOMPolicy({ formats: ['spdx'], bindToArtifact: false }, '$.sbom');
  assert.equal(statuses(checkSBOM({ sboms: [{ document: doc, source: 's' }], artifactDigests: {}, policy: spdxOnly }))['sbom.format'], 'failed');
});

test('checkSBOM: an invalid SBOM becomes a failed check naming the path; valid ones are still analysed', () => {
  const bad = cyclonedx({ version: '1.6', components: [{ name: 'x', hashes: { 'SHA-256': 'nothex' } }] });
  const good = cyclonedx({ version: '1.4', components: comps, described: { name: 'app', hashes: { 'SHA-256': sha256 } } });
  const r = analyzeSBOMs({ sboms: [{ document: bad, source: 'bad.json' }, { document: good, source: 'good.json' }, { document: cyclonedx({ version: '9.9', components: [] }), source: 'future.json' }], artifactDigests: { sha256 }, policy: policyAll });
  const schema = r.checks.filter((c) => c.id === 'sbom.schema');
  assert.deepEqual(schema.map((c) => c.status), ['failed', 'passed', 'failed']);
  assert.match(schema[0]!.reason, /bad\.json .*\$\.components\[0\]\.hashes\[0\]\.content/);
  assert.equal(schema[0]!.details!.path, '$.components[0].hashes[0].content');
  assert.equal(schema[2]!.details!.code, 'SBOM_UNSUPPORTED_VERSION');
  assert.equal(r.documents.length, 1);
  assert.equal(r.documents[0]!.source, 'good.json');
});

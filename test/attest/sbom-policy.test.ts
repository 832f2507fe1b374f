import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateSBOMPolicy, DEFAULT_SBOM_POLICY } from '../../attest/sbom/index.ts';
import { PolicyError } from '../../attest/errors.ts';

test('validateSBOMPolicy: defaults and a full policy', () => {
  assert.equal(validateSBOMPolicy(undefined, '$.sbom'), DEFAULT_SBOM_POLICY);
  const p = validateSBOMPolicy(
    {
      required: true,
      formats: ['spdx'],
      bindToArtifact: false,
      licenses: { allow: ['MIT', 'GPL-2.0+'], deny: ['AGPL-3.0-only'], noAssertion: 'allow' },
      deniedComponents: ['pkg:npm/left-pad', { purl: 'pkg:npm/lodash', versions: '<4.17.21', reason: 'CVE' }],
      requiredFields: { components: ['purl'], document: ['timestamp'] },
    },
    '$.sbom',
  );
  assert.equal(p.required, true);
  assert.deepEqual(p.formats, ['spdx']);
  assert.equal(p.licenses!.allow!.map((l) => l.text).join(','), 'MIT,GPL-2.0-or-later');
  assert.equal(p.licenses!.noAssertion, 'allow');
  assert.equal(p.licenses!.none, 'deny', 'defaults to deny with an allow-list');
  assert.equal(p.deniedComponents.length, 2);
  assert.equal(validateSBOMPolicy({ licenses: { deny: ['GPL-3.0-only'] } }, '$.sbom').licenses!.missing, 'allow');
});

test('validateSBOMPolicy: errors name the exact offending path', () => {
  const cases: Array<[unknown, string]> = [
    [[], '$.sbom'],
    [{ requried: true }, '$.sbom.requried'],
    [{ required: 'yes' }, '$.sbom.required'],
    [{ formats: ['cyclonedx', 'swid'] }, '$.sbom.formats[1]'],
    [{ formats: [] }, '$.sbom.formats'],
    [{ bindToArtifact: 1 }, '$.sbom.bindToArtifact'],
    [{ licenses: [] }, '$.sbom.licenses'],
    [{ licenses: { allow: ['MIT', 'Apache-2.0', 'MIT OR BSD-3-Clause'] } }, '$.sbom.licenses.allow[2]'],
    [{ licenses: { allow: ['MIT', 7] } }, '$.sbom.licenses.allow[1]'],
    [{ licenses: { deny: ['(GPL'] } }, '$.sbom.licenses.deny[0]'],
    [{ licenses: { allow: 'MIT' } }, '$.sbom.licenses.allow'],
    [{ licenses: { noAssertion: 'maybe' } }, '$.sbom.licenses.noAssertion'],
    [{ licenses: { alow: [] } }, '$.sbom.licenses.alow'],
    [{ deniedComponents: 'pkg:npm/x' }, '$.sbom.deniedComponents'],
    [{ deniedComponents: ['pkg:npm/x', 'npm/y'] }, '$.sbom.deniedComponents[1]'],
    [{ deniedComponents: [{ purl: 'pkg:npm/x', versions: '<1.0' }] }, '$.sbom.deniedComponents[0].versions'],
    [{ deniedComponents: [{ purl: 'pkg:npm/x', versions: '>=1.0.0 ||' }] }, '$.sbom.deniedComponents[0].versions'],
    [{ deniedComponents: [{ purl: 'pkg:gem/x', versions: '<1.0' }] }, '$.sbom.deniedComponents[0].versions'],
    [{ deniedComponents: [{ purl: 'pkg:npm/x@1.0.0', versions: '<2.0.0' }] }, '$.sbom.deniedComponents[0].versions'],
    [{ deniedComponents: [{ purl: 42 }] }, '$.sbom.deniedComponents[0].purl'],
    [{ deniedComponents: [{ purl: 'pkg:npm/x', reason: 1 }] }, '$.sbom.deniedComponents[0].reason'],
    [{ deniedComponents: [{ purl: 'pkg:npm/x', version: '1' }] }, '$.sbom.deniedComponents[0].version'],
    [{ deniedComponents: ['pkg:npm/x@not-semver'] }, '$.sbom.deniedComponents[0]'],
    [{ requiredFields: { components: ['sha'] } }, '$.sbom.requiredFields.components[0]'],
    [{ requiredFields: { document: 'author' } }, '$.sbom.requiredFields.document'],
    [{ requiredFields: { files: [] } }, '$.sbom.requiredFields.files'],
  ];
  for (const [value, path] of cases) {
    assert.throws(
      () => validateSBOMPolicy(value, '$.sbom'),
      (e: unknown) => e instanceof PolicyError && e.path === path && e.code === 'POLICY_INVALID',
      `${JSON.stringify(value)} → ${path}`,
    );
  }
});

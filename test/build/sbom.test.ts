// Pieces of the SBOM/provenance builder that do not need a build.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { npmPurl, packageDirOf, uuidFromDigest } from '../../build/sbom.ts';

describe('build/sbom.ts', () => {
  it('maps bundle inputs to the innermost package directory', () => {
    assert.equal(packageDirOf('node_modules/tuf-js/dist/index.js'), 'node_modules/tuf-js');
    assert.equal(packageDirOf('node_modules/@sigstore/verify/dist/a/b.js'), 'node_modules/@sigstore/verify');
    assert.equal(packageDirOf('node_modules/a/node_modules/@s/b/x.js'), 'node_modules/a/node_modules/@s/b');
    assert.equal(packageDirOf('agent/main.ts'), undefined);
    assert.equal(packageDirOf('node_modules'), undefined);
  });

  it('writes npm purls with an encoded scope', () => {
    assert.equal(npmPurl('@sigstore/verify', '4.1.3'), 'pkg:npm/%40sigstore/verify@4.1.3');
    assert.equal(npmPurl('cbor-x', '1.6.9'), 'pkg:npm/cbor-x@1.6.9');
    assert.equal(npmPurl('x', '1.0.0+build'), 'pkg:npm/x@1.0.0%2Bbuild');
  });

  it('derives a stable RFC 9562 v8 UUID from a digest', () => {
    const d = 'ff'.repeat(32);
    assert.equal(uuidFromDigest(d), 'urn:uuid:ffffffff-ffff-8fff-bfff-ffffffffffff');
    assert.equal(uuidFromDigest('00'.repeat(32)), 'urn:uuid:00000000-0000-8000-8000-000000000000');
    assert.notEqual(uuidFromDigest('01' + '00'.repeat(31)), uuidFromDigest('00'.repeat(32)));
  });
});

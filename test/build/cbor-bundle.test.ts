// cbor-x inside the single binary: bundled through its pure-JS entry, with no trace of its
// optional native helper (cbor-extract), which a Node single executable could not load.
// Reads dist/ as `npm test` builds it first.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DIST = join(import.meta.dirname, '..', '..', 'dist');

describe('cbor-x in dist/tollgate.cjs', () => {
  it('the bundle takes cbor-x from its pure-JS files and never reaches cbor-extract or a .node file', () => {
    assert.ok(existsSync(join(DIST, 'tollgate.meta.json')), 'dist/tollgate.meta.json is missing: run `npm run build` (npm test does it first)');
    const meta = JSON.parse(readFileSync(join(DIST, 'tollgate.meta.json'), 'utf8')) as {
      inputs: Record<string, { imports: Array<{ path: string; external?: boolean }> }>;
    };
    const inputs = Object.keys(meta.inputs);
    for (const f of ['node_modules/cbor-x/index.js', 'node_modules/cbor-x/decode.js', 'node_modules/cbor-x/encode.js', 'attest/cose/cbor.ts']) {
      assert.ok(inputs.includes(f), `${f} is not in the bundle`);
    }
    // node-index.js is the entry that require()s cbor-extract; dist/node.cjs is the CommonJS build.
    assert.deepEqual(inputs.filter((f) => /cbor-x\/(node-index\.js|dist\/)/.test(f)), []);
    assert.deepEqual(inputs.filter((f) => /cbor-extract|\.node$/.test(f)), []);
    const imported = Object.values(meta.inputs).flatMap((i) => i.imports.map((x) => x.path));
    assert.deepEqual(imported.filter((p) => /cbor-extract|\.node$/.test(p)), [], 'nothing imports the native helper, not even as an external');
    const code = readFileSync(join(DIST, 'tollgate.cjs'), 'utf8');
    assert.doesNotMatch(code, /require\(["'`]cbor-extract/);
    assert.doesNotMatch(code, /node-gyp-build/);
  });
});

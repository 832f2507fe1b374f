// The shipped EK root store: roots.json is exactly what build/ekroots.ts makes from the vendor PEM
// files next to it, every certificate in it is usable, it survives bundling into the single
// binary's CommonJS, and operator directories and bundles load with typed errors when they are bad.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { EK_ROOTS_DIR, EK_ROOTS_JSON, generateEKRoots, serializeEKRoots } from '../../build/ekroots.ts';
import { builtinEKRootStore, loadEKRootStore, readCADirectory } from '../../attest/ekroots/index.ts';
import { EKChainError, toPEM, verifyEKChain } from '../../hardware/x509/index.ts';
import { makeRoot, makeIntermediate, makeEK, ecKey } from '../fixtures/ekcerts.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const storeInvalid = (e: unknown): boolean => e instanceof EKChainError && e.code === 'EK_ROOT_STORE_INVALID' && e.errorClass === 'usage';

describe('built-in EK root store', () => {
  it('roots.json is exactly what build/ekroots.ts makes from the PEM files (run `node build/ekroots.ts` after changing them)', () => {
    assert.equal(readFileSync(EK_ROOTS_JSON, 'utf8'), serializeEKRoots(generateEKRoots()));
  });

  it('holds every certificate of every PEM file once, each parsed with a usable key and marked as a CA', () => {
    const json = generateEKRoots();
    const sources = new Set(json.certificates.flatMap((c) => c.sources.map((s) => s.replace(/#\d+$/, ''))));
    const files = [...readdirSync(join(EK_ROOTS_DIR, 'keylime')).map((f) => `keylime/${f}`), ...readdirSync(join(EK_ROOTS_DIR, 'tpm-ca-certificates')).map((f) => `tpm-ca-certificates/${f}`)];
    assert.deepEqual([...sources].sort(), files.sort());
    const store = builtinEKRootStore();
    assert.equal(store.size, 193);
    assert.equal(builtinEKRootStore(), store, 'parsed once');
    for (const a of store.anchors) {
      assert.ok(a.cert.publicKey.keyObject, `${a.source}: ${a.cert.publicKey.keyError}`);
      assert.ok(a.cert.basicConstraints?.cA, `${a.source} is a CA`);
      assert.match(a.source, /^builtin:(keylime|tpm-ca-certificates)\//);
    }
    const vendors = new Set(store.anchors.map((a) => a.cert.subject.rdns.flat().find((x) => x.type === 'O')?.value));
    for (const v of ['Infineon Technologies AG', 'STMicroelectronics NV', 'Nuvoton Technology Corporation', 'Intel Corporation', 'Advanced Micro Devices', 'Microsoft Corporation']) assert.ok(vendors.has(v), v);
  });

  it('bundled by esbuild into CommonJS (as the single binary is), the store is inlined and validates a real EK certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-ekroots-'));
    try {
      const entry = join(dir, 'entry.ts');
      writeFileSync(entry, [
        `import { builtinEKRootStore } from ${JSON.stringify(join(ROOT, 'attest/ekroots/index.ts'))};`,
        `import { verifyEKChain } from ${JSON.stringify(join(ROOT, 'hardware/x509/index.ts'))};`,
        'const ek = Buffer.from(process.argv[2], "base64");',
        'const r = verifyEKChain(ek, [], builtinEKRootStore(), { at: new Date("2024-06-01T00:00:00Z") });',
        'console.log(JSON.stringify({ size: builtinEKRootStore().size, vendor: r.vendor.name, path: r.path.length }));',
      ].join('\n'));
      const out = await build({ entryPoints: [entry], bundle: true, platform: 'node', target: 'node24', format: 'cjs', write: false, logLevel: 'silent' });
      const bundle = join(dir, 'bundle.cjs');
      writeFileSync(bundle, out.outputFiles[0]!.contents);
      const ek = readFileSync(join(ROOT, 'test/x509/ekcerts/infineon-ecc-ek.der')).toString('base64');
      const r = spawnSync(process.execPath, [bundle, ek], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { size: 193, vendor: 'Infineon', path: 3 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('operator CA directories and bundles', () => {
  const root = makeRoot('Operator Root');
  const int = makeIntermediate(root, 'Operator Intermediate', ecKey());
  const ek = makeEK(int, ecKey().publicKey);

  it('a directory of PEM and DER files (keylime\'s tpm_cert_store layout) replaces the built-in set; bundles add to it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cadir-'));
    try {
      cpSync(join(EK_ROOTS_DIR, 'keylime'), dir, { recursive: true });
      writeFileSync(join(dir, 'operator-root.der'), root.der);
      writeFileSync(join(dir, 'README'), 'not a certificate');
      const store = loadEKRootStore(dir);
      assert.equal(store.size, 45 + 1);
      assert.equal(verifyEKChain(ek, [int.der], store).anchor.cert.subject.text, 'C=CH, O=Tollgate Test TPM Vendor, CN=Operator Root');
      assert.equal(verifyEKChain(readFileSync(join(ROOT, 'test/x509/ekcerts/stm-ecc-ek.der')), [], store, { at: new Date('2024-06-01Z') }).path.length, 3); // keylime has no GlobalSign ECC root
      const bundle = join(dir, 'bundle.txt');
      writeFileSync(bundle, toPEM(int.der) + toPEM(root.der));
      const withBundle = loadEKRootStore(undefined, [bundle]);
      assert.equal(withBundle.size, builtinEKRootStore().size + 2);
      assert.match(verifyEKChain(ek, [], withBundle).anchor.source, /^operator:.*bundle\.txt#1$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses missing paths, empty directories, unreadable files with EK_ROOT_STORE_INVALID (a usage error)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cadir-'));
    try {
      assert.throws(() => loadEKRootStore(join(dir, 'missing')), storeInvalid);
      assert.throws(() => readCADirectory(dir), storeInvalid);
      assert.throws(() => loadEKRootStore(undefined, [join(dir, 'missing.pem')]), storeInvalid);
      writeFileSync(join(dir, 'bad.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      assert.throws(() => loadEKRootStore(dir), (e: unknown) => storeInvalid(e) && /bad\.pem/.test((e as Error).message));
      writeFileSync(join(dir, 'bad.pem'), 'no certificate');
      assert.throws(() => loadEKRootStore(dir), storeInvalid);
      writeFileSync(join(dir, 'bad.pem'), Buffer.alloc(5 * 1024 * 1024, 0x30));
      assert.throws(() => loadEKRootStore(dir), (e: unknown) => storeInvalid(e) && /bytes/.test((e as Error).message));
      rmSync(join(dir, 'bad.pem'));
      writeFileSync(join(dir, 'x.der'), Buffer.from([1, 2, 3]));
      assert.throws(() => loadEKRootStore(dir), storeInvalid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

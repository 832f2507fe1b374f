// Fuzzing the X.509 reader and the EK chain check: real EK and vendor CA certificates and the
// fixture's quirky ones, mutated (bit flips, interesting bytes, length-field edits, truncation,
// insertion, deletion, duplication, splices of two certificates) plus random bytes, fed to
// parseCertificate, parseCertificates, the signature check and verifyEKChain. The only acceptable
// outcomes are a result or a typed X509Error / EKChainError; anything else (RangeError,
// TypeError, a hang) fails. The PRNG is seeded so a failure replays.
//
// `npm test` runs TOLLGATE_X509_FUZZ_N inputs (default 4,000); the full run is
// TOLLGATE_X509_FUZZ_N=100000 node --test test/x509/fuzz.test.ts (TOLLGATE_FUZZ_STATS=1 prints counts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  EKChainError, EKRootStore, X509Error, parseCertificate, parseCertificates, pemCertificates, toPEM, verifyCertificateSignature, verifyEKChain,
} from '../../hardware/x509/index.ts';
import { builtinEKRootStore } from '../../attest/ekroots/index.ts';
import { makeRoot, makeIntermediate, makeEK, rsaKey, ecKey, time, ext, ekExtensions } from '../fixtures/ekcerts.ts';

/** xorshift32: deterministic, seedable. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 0x100000000; };
}

const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x17, 0x18, 0x1f, 0x20, 0x30, 0x31, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xa0, 0xa3, 0xa4, 0xfe, 0xff];

function mutate(rnd: () => number, seeds: readonly Buffer[]): Buffer {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const at = (b: Buffer) => Math.floor(rnd() * b.length);
  let b = Buffer.from(pick(seeds));
  const rounds = 1 + Math.floor(rnd() * 3);
  for (let r = 0; r < rounds && b.length > 0; r++) {
    switch (Math.floor(rnd() * 11)) {
      case 0: for (let i = 0, n = 1 + Math.floor(rnd() * 8); i < n; i++) b[at(b)]! ^= 1 << Math.floor(rnd() * 8); break;
      case 1: b[at(b)] = pick(INTERESTING); break;
      case 2: { // a length field: the byte after something that looks like a tag
        const i = at(b);
        if (i + 1 < b.length) b[i + 1] = pick([0x00, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xff, Math.floor(rnd() * 256)]);
        break;
      }
      case 3: b = b.subarray(0, at(b)); break;
      case 4: { const i = at(b); b = Buffer.concat([b.subarray(0, i), Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 16) }, () => Math.floor(rnd() * 256))), b.subarray(i)]); break; }
      case 5: { const i = at(b); b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + Math.floor(rnd() * 32))]); break; }
      case 6: { const i = at(b); const j = Math.min(b.length, i + 1 + Math.floor(rnd() * 64)); b = Buffer.concat([b.subarray(0, j), b.subarray(i, j), b.subarray(j)]); break; }
      case 7: { const o = pick(seeds); b = Buffer.concat([b.subarray(0, at(b)), o.subarray(Math.floor(rnd() * o.length))]); break; }
      case 8: b = Buffer.concat([b, Buffer.alloc(1 + Math.floor(rnd() * 64), pick([0x00, 0xff, 0x30]))]); break;
      case 9: { const i = at(b); b.writeUInt8(pick(INTERESTING), i); if (i + 2 < b.length) b[i + 2] = pick(INTERESTING); break; }
      default: { const o = pick(seeds); b = Buffer.concat([b, o]); break; } // concatenated certificates
    }
  }
  if (rnd() < 0.02) b = Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)));
  return b;
}

const typedParse = (e: unknown): boolean => e instanceof X509Error && ['X509_MALFORMED', 'X509_TOO_LARGE', 'X509_UNSUPPORTED'].includes(e.code);

describe('X.509 reader fuzz', () => {
  it('mutated certificates end in a result or a typed error, never anything else', () => {
    const n = Number(process.env.TOLLGATE_X509_FUZZ_N ?? 4000);
    const seed = Number(process.env.TOLLGATE_FUZZ_SEED ?? 0x0e4c3a7);
    const rnd = prng(seed);
    const dir = join(import.meta.dirname, 'ekcerts');
    const realCerts = readdirSync(dir).filter((f) => f.endsWith('.der')).map((f) => readFileSync(join(dir, f)));
    const vendor = builtinEKRootStore();
    const root = makeRoot('Fuzz Root');
    const int = makeIntermediate(root, 'Fuzz Intermediate', rsaKey());
    const ek = ecKey().publicKey;
    const quirky = [
      makeEK(int, ek, { serial: Buffer.from([0, 0, 1]), longLengths: true }),
      makeEK(int, ek, { notBefore: time.utcNoSeconds(new Date('2020-01-01Z')), signatureUnusedBits: 2, alg: 'rsa-pss-sha256' }),
      makeEK(int, ek, { extensions: [...ekExtensions(int), ext.unknownCritical(), ext.tpmSAN('id:49465800', 'm', 'v', { implicit: true })] }),
      root.der, int.der,
    ];
    const seeds = [...realCerts, ...quirky, ...vendor.anchors.filter((_, i) => i % 8 === 0).map((a) => a.cert.der)];
    const store = new EKRootStore([{ cert: parseCertificate(root.der), source: 'fuzz' }, ...vendor.anchors.slice(0, 40)]);
    const stats = { inputs: 0, parsed: 0, chainsOk: 0, codes: new Map<string, number>(), peakHeapMiB: 0 };
    const count = (code: string) => stats.codes.set(code, (stats.codes.get(code) ?? 0) + 1);
    const failures: string[] = [];
    for (let i = 0; i < n; i++) {
      const b = mutate(rnd, seeds);
      stats.inputs++;
      const fail = (stage: string, e: unknown) => failures.push(`seed ${seed} input ${i} (${stage}): ${(e as Error)?.stack ?? String(e)} bytes ${b.subarray(0, 64).toString('hex')}`);
      let c;
      try {
        c = parseCertificate(b, { trailing: i % 2 ? 'padding' : 'any' });
        stats.parsed++;
      } catch (e) {
        if (typedParse(e)) count((e as X509Error).code);
        else fail('parseCertificate', e);
      }
      if (i % 4 === 0) {
        try {
          parseCertificates(b);
        } catch (e) {
          if (!typedParse(e)) fail('parseCertificates', e);
        }
      }
      if (i % 16 === 0) {
        try {
          pemCertificates(toPEM(b).replace(/[A-Z]/, (x) => (rnd() < 0.5 ? x : '*')));
        } catch (e) {
          if (!typedParse(e)) fail('pemCertificates', e);
        }
      }
      if (c) {
        try {
          verifyCertificateSignature(c, c.publicKey);
          verifyCertificateSignature(c, int.der === b ? c.publicKey : parseCertificate(int.der).publicKey);
        } catch (e) {
          fail('verifyCertificateSignature', e);
        }
        try {
          verifyEKChain(c, i % 3 === 0 ? [int.der, b] : [], store, { at: new Date('2024-06-01Z') });
          stats.chainsOk++;
        } catch (e) {
          if (e instanceof EKChainError) count(e.code);
          else fail('verifyEKChain', e);
        }
      }
      if (i % 1000 === 0) stats.peakHeapMiB = Math.max(stats.peakHeapMiB, Math.round(process.memoryUsage().heapUsed / 2 ** 20));
      if (failures.length >= 5) break;
    }
    if (process.env.TOLLGATE_FUZZ_STATS) console.log(JSON.stringify({ seed, ...stats, codes: Object.fromEntries(stats.codes) }));
    assert.deepEqual(failures, []);
    assert.equal(stats.inputs, n);
    // Every kind of outcome occurred: the fuzzer reaches past the first bytes.
    assert.ok(stats.parsed > n / 20, `only ${stats.parsed} of ${n} mutated inputs parsed`);
    assert.ok(stats.chainsOk > 0, 'some mutated certificates still validate (mutations in padding or unsigned fields)');
    assert.ok((stats.codes.get('X509_MALFORMED') ?? 0) > n / 10);
    assert.ok(stats.peakHeapMiB < 1024, `heap ${stats.peakHeapMiB} MiB`);
  });
});

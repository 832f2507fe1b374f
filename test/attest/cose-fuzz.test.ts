// Fuzz of the CBOR/COSE decoders: mutated evidence, EAR CWTs and COSE WG vectors must each decode
// or be refused with a typed error (an AttestError subclass) — never another exception, never a
// hang, never unbounded memory. Deterministic (seeded PRNG), so a failure reproduces.
// TOLLGATE_FUZZ_ITERATIONS sets the count (default 10,000 keeps npm test quick; the issue's
// 100,000 runs with TOLLGATE_FUZZ_ITERATIONS=100000).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestError, cose, eat, ear } from '../../attest/index.ts';
import { makeEvidence, softwareTpm } from '../fixtures/attest/evidence.ts';

const ITERATIONS = Number(process.env.TOLLGATE_FUZZ_ITERATIONS ?? 10_000);
const SEED = Number(process.env.TOLLGATE_FUZZ_SEED ?? 0x7011);

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Bytes that change CBOR structure: heads with 1/2/4/8-byte arguments, indefinite lengths, tags,
// simple values, floats, break, reserved values.
const INTERESTING = [0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x38, 0x3b, 0x40, 0x58, 0x5b, 0x5f, 0x60, 0x78, 0x7b, 0x7f, 0x80, 0x98, 0x9b, 0x9f,
  0xa0, 0xb8, 0xbb, 0xbf, 0xc0, 0xd2, 0xd8, 0xd9, 0xdb, 0xf4, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xff, 0x7f, 0xfe];

function mutate(rand: () => number, input: Uint8Array, others: Uint8Array[]): Uint8Array {
  const pick = (n: number) => Math.floor(rand() * n);
  let b = Array.from(input);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    const at = pick(b.length + 1);
    switch (pick(8)) {
      case 0: // flip a bit
        if (b.length) b[at % b.length]! ^= 1 << pick(8);
        break;
      case 1: // set an interesting byte
        if (b.length) b[at % b.length] = INTERESTING[pick(INTERESTING.length)]!;
        break;
      case 2: // a random byte
        if (b.length) b[at % b.length] = pick(256);
        break;
      case 3: // insert bytes
        b.splice(at, 0, ...Array.from({ length: 1 + pick(8) }, () => (rand() < 0.5 ? INTERESTING[pick(INTERESTING.length)]! : pick(256))));
        break;
      case 4: // delete a range
        b.splice(at, 1 + pick(16));
        break;
      case 5: // truncate
        b = b.slice(0, at);
        break;
      case 6: { // duplicate a range (repeated map entries, nested copies)
        const len = 1 + pick(32);
        b.splice(at, 0, ...b.slice(at, at + len));
        break;
      }
      default: { // splice in a piece of another seed
        const o = others[pick(others.length)]!;
        const from = pick(o.length);
        b.splice(at, pick(8), ...Array.from(o.subarray(from, from + 1 + pick(64))));
      }
    }
  }
  return new Uint8Array(b);
}

/** Values of every CBOR type tollgate accepts, to put where the profile expects another. */
function randomValue(rand: () => number, depth = 0): cose.CborValue {
  const pick = (n: number) => Math.floor(rand() * n);
  switch (pick(depth > 2 ? 9 : 11)) {
    case 0: return pick(3) - 1;
    case 1: return [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32, Number.MAX_SAFE_INTEGER, -(2 ** 31)][pick(10)]!;
    case 2: return [2n ** 64n - 1n, -(2n ** 63n), 2n ** 53n][pick(3)]!;
    case 3: return ['', 'x', 'tcg-pc-client', 'ima', 'sha256', 'md5', 'é'.repeat(pick(40))][pick(7)]!;
    case 4: return new Uint8Array(pick(70)).fill(pick(256));
    case 5: return null;
    case 6: return rand() < 0.5;
    case 7: return [];
    case 8: return new Map();
    case 9: return Array.from({ length: 1 + pick(3) }, () => randomValue(rand, depth + 1));
    default: return new Map<cose.CborKey, cose.CborValue>(Array.from({ length: 1 + pick(3) }, () => [pick(8) - 1, randomValue(rand, depth + 1)]));
  }
}

/** Structure-aware mutation: replace, drop or add one node somewhere in a decoded value. */
function mutateTree(rand: () => number, v: cose.CborValue): cose.CborValue {
  const pick = (n: number) => Math.floor(rand() * n);
  const kids = v instanceof Map ? [...v.keys()] : Array.isArray(v) ? v.map((_, i) => i) : [];
  if (kids.length === 0 || rand() < 0.25) return randomValue(rand);
  const k = kids[pick(kids.length)]!;
  const child = v instanceof Map ? v.get(k)! : (v as cose.CborValue[])[k as number]!;
  const op = pick(4);
  if (v instanceof Map) {
    const m = new Map(v);
    if (op === 0) m.delete(k);
    else if (op === 1) m.set(pick(2) ? pick(10) - 2 : 'k', randomValue(rand));
    else m.set(k, mutateTree(rand, child));
    return m;
  }
  const a = [...(v as cose.CborValue[])];
  if (op === 0) a.splice(k as number, 1);
  else if (op === 1) a.push(randomValue(rand));
  else a[k as number] = mutateTree(rand, child);
  return a;
}

describe('CBOR/COSE decoder fuzz', () => {
  it(`${ITERATIONS} mutated inputs: each decodes or is refused with a typed error`, async () => {
    const t = softwareTpm();
    const evidence = (await makeEvidence(t, new Uint8Array(32).fill(3))).bytes;
    const earCwt = await ear.signEARCWT(ear.buildEAR({
      iat: 1, verifierId: { developer: 'd', build: 'b' }, nonce: new Uint8Array(8),
      submods: { t: ear.appraisalFromReasons([{ claim: 'c', status: 'warning', category: 'hardware', message: 'm' }]) },
    }), cose.softwareCoseSigner(t.device.privateKey));
    const dir = join(import.meta.dirname, 'vectors', 'cose-wg');
    const vectors = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => new Uint8Array(Buffer.from(JSON.parse(readFileSync(join(dir, f), 'utf8')).output.cbor, 'hex')));
    const sign1 = cose.decodeSign1(evidence);
    const earSign1 = cose.decodeSign1(earCwt);
    const trees = [cose.decodeCBOR(sign1.payload), cose.decodeCBOR(earSign1.payload)];
    const seeds = [evidence, earCwt, ...vectors];

    const rand = prng(SEED);
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    const heapStart = process.memoryUsage().heapUsed;
    let heapPeak = heapStart;
    for (let i = 0; i < ITERATIONS; i++) {
      let input: Uint8Array;
      const mode = i % 4;
      if (mode === 2) {
        // Mutate the claims payload's bytes and rewrap it, so mutations reach the EAT claims checks.
        input = cose.encodeTaggedCBOR(18, [sign1.protectedBytes, new Map(), mutate(rand, sign1.payload, seeds), sign1.signature]);
      } else if (mode === 3) {
        // Type confusion: a well-formed claims map (evidence or EAR) with one node changed.
        const which = (i >> 2) % 2;
        const s1 = which === 0 ? sign1 : earSign1;
        input = cose.encodeTaggedCBOR(18, [s1.protectedBytes, new Map(), cose.encodeCBOR(mutateTree(rand, trees[which]!)), s1.signature]);
      } else input = mutate(rand, seeds[mode === 0 ? 0 : Math.floor(rand() * seeds.length)]!, seeds);
      for (const [name, decode] of [
        ['evidence', () => eat.decodeEvidence(input)],
        ['ear', () => ear.decodeEARCWT(input)],
        ['cbor', () => cose.decodeCBORTagged(input, { tags: [18] })],
      ] as const) {
        try {
          decode();
          count(`${name}:ok`);
        } catch (e) {
          if (!(e instanceof AttestError)) {
            assert.fail(`iteration ${i} (${name}): an untyped ${String(e)}\ninput ${Buffer.from(input).toString('hex')}\n${(e as Error).stack}`);
          }
          count(`${name}:${e.code}`);
        }
      }
      if (i % 2000 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    const summary = [...outcomes].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(' ');
    process.stderr.write(`fuzz: ${ITERATIONS} inputs (seed ${SEED}), heap peak +${((heapPeak - heapStart) / 2 ** 20).toFixed(1)} MiB\n${summary}\n`);
    // Inputs are a few KiB: decoding them must not grow the heap by more than a small multiple.
    assert.ok(heapPeak - heapStart < 256 * 2 ** 20, `heap grew by ${heapPeak - heapStart} bytes`);
    // The fuzz reached the deep checks, not only the first byte.
    for (const k of ['evidence:ok', 'evidence:EAT_QUOTE_BINDING_MISMATCH', 'evidence:EAT_CLAIM_INVALID', 'evidence:EAT_CLAIM_MISSING', 'evidence:CBOR_TRUNCATED', 'ear:ok', 'ear:EAR_CLAIM_INVALID', 'cbor:ok']) {
      assert.ok((outcomes.get(k) ?? 0) > 0, `no input ended in ${k}: ${summary}`);
    }
  });
});

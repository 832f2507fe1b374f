// CBOR and COSE_Sign1: the COSE WG example vectors, round trips, tampering, and hostile encodings.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cose } from '../../attest/index.ts';
import { isNativeAccelerationEnabled } from 'cbor-x/decode';

const { decodeCBOR, decodeCBORTagged, encodeCBOR, encodeTaggedCBOR, decodeSign1, verifySign1, signSign1, softwareCoseSigner, sigStructure } = cose;
type CborValue = cose.CborValue;

const VECTORS = join(import.meta.dirname, 'vectors', 'cose-wg');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

/** Asserts `fn` throws a typed error (an AttestError subclass) with `code`. */
function refuses(fn: () => unknown, code: string, msg?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cose.CborError || e instanceof cose.CoseError, `expected a typed CBOR/COSE error, got ${String(e)}`);
    assert.equal(e.code, code, `${msg ?? ''} ${e.message}`);
    return true;
  });
}

interface Vector {
  title: string;
  fail?: boolean;
  input: { sign0: { key: Record<string, string>; external?: string } };
  intermediates: { ToBeSign_hex: string };
  output: { cbor: string };
}

function vectorKey(k: Record<string, string>): JsonWebKey {
  const b64 = (h: string) => Buffer.from(h, 'hex').toString('base64url');
  return { kty: 'EC', crv: k.crv, x: k.x ?? b64(k.x_hex!), y: k.y ?? b64(k.y_hex!), d: k.d ?? b64(k.d_hex!) };
}

const vectors = new Map<string, Vector>(readdirSync(VECTORS).filter((f) => f.endsWith('.json')).map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(VECTORS, f), 'utf8')) as Vector]));

describe('COSE WG example vectors', () => {
  // What tollgate must do with each vector, and why where it differs from the vector's pass/fail.
  const expected: Record<string, string> = {
    'ecdsa-sig-01': 'ok',
    'ecdsa-sig-02': 'ok',
    'A_3': 'ok',
    'sign-pass-02': 'ok', // with the external AAD
    'sign-pass-03': 'ok', // untagged: accepted unless the tag is required
    'sign-pass-01': 'COSE_ALG_UNPROTECTED', // valid COSE, but tollgate requires a protected alg
    'ecdsa-sig-03': 'COSE_ALG_UNSUPPORTED', // ES512 is not offered
    'sign-fail-01': 'COSE_WRONG_TAG',
    'sign-fail-02': 'COSE_SIGNATURE_INVALID',
    'sign-fail-03': 'COSE_ALG_UNSUPPORTED',
    'sign-fail-04': 'COSE_ALG_UNSUPPORTED',
    'sign-fail-06': 'COSE_SIGNATURE_INVALID',
    'sign-fail-07': 'COSE_SIGNATURE_INVALID',
  };

  it('has every vector file the table names', () => {
    assert.deepEqual([...vectors.keys()].sort(), Object.keys(expected).sort());
  });

  for (const [name, want] of Object.entries(expected)) {
    it(`${name}: ${want}`, () => {
      const v = vectors.get(name)!;
      const key = vectorKey(v.input.sign0.key);
      const aad = v.input.sign0.external ? unhex(v.input.sign0.external) : new Uint8Array(0);
      const run = () => {
        const msg = decodeSign1(unhex(v.output.cbor));
        // Our Sig_structure is byte for byte the one the vector was signed over.
        if (!v.fail) assert.equal(hex(sigStructure(msg.protectedBytes, aad, msg.payload)), v.intermediates.ToBeSign_hex.toLowerCase());
        verifySign1(msg, key, { externalAad: aad });
        return msg;
      };
      if (want === 'ok') {
        const msg = run();
        assert.equal(v.fail, undefined);
        // Re-encoding the decoded parts gives the vector's exact bytes (deterministic encoding).
        const parts: CborValue = [msg.protectedBytes, msg.unprotectedHeader, msg.payload, msg.signature];
        assert.equal(hex(msg.tagged ? encodeTaggedCBOR(18, parts) : encodeCBOR(parts)), v.output.cbor.toLowerCase());
      } else refuses(run, want, name);
    });
  }

  it('sign-pass-02 fails without its external AAD', () => {
    const v = vectors.get('sign-pass-02')!;
    refuses(() => verifySign1(decodeSign1(unhex(v.output.cbor)), vectorKey(v.input.sign0.key)), 'COSE_SIGNATURE_INVALID');
  });

  it('sign-pass-03 (untagged) is refused where the tag is required', () => {
    refuses(() => decodeSign1(unhex(vectors.get('sign-pass-03')!.output.cbor), { tag: 'required' }), 'COSE_WRONG_TAG');
  });

  it('A.3: the payload is the RFC 8392 example claims set', () => {
    const msg = decodeSign1(unhex(vectors.get('A_3')!.output.cbor));
    const claims = decodeCBOR(msg.payload) as cose.CborMap;
    assert.equal(claims.get(1), 'coap://as.example.com');
    assert.equal(claims.get(2), 'erikw');
    assert.equal(claims.get(4), 1444064944);
    assert.equal(hex(claims.get(7) as Uint8Array), '0b71');
  });

  it('signing with the example keys reproduces the vectors up to the (randomised) signature', async () => {
    for (const name of ['ecdsa-sig-02', 'A_3']) {
      const v = vectors.get(name)!;
      const ref = decodeSign1(unhex(v.output.cbor));
      const priv = createPrivateKey({ key: vectorKey(v.input.sign0.key), format: 'jwk' });
      const out = await signSign1(ref.payload, softwareCoseSigner(priv), { unprotectedHeader: ref.unprotectedHeader });
      const sigLen = ref.signature.length;
      assert.equal(hex(out.subarray(0, out.length - sigLen)), v.output.cbor.toLowerCase().slice(0, -2 * sigLen));
      verifySign1(decodeSign1(out), vectorKey(v.input.sign0.key));
    }
  });
});

describe('COSE_Sign1 sign and verify', () => {
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const payload = new TextEncoder().encode('tollgate evidence');

  it('ES256 and ES384 round trip, with kid, typ and external AAD', async () => {
    for (const k of [p256, p384]) {
      const kid = unhex('0102');
      const aad = unhex('aabb');
      const bytes = await signSign1(payload, softwareCoseSigner(k.privateKey, { kid }), { protectedHeader: new Map([[16, 'application/eat+cwt']]), externalAad: aad });
      const msg = decodeSign1(bytes, { tag: 'required' });
      assert.equal(msg.alg, k === p256 ? -7 : -35);
      assert.deepEqual(msg.kid, kid);
      assert.equal(msg.protectedHeader.get(16), 'application/eat+cwt');
      assert.deepEqual(msg.payload, payload);
      verifySign1(msg, k.publicKey, { externalAad: aad });
      verifySign1(msg, k.privateKey, { externalAad: aad }); // its public half
      verifySign1(msg, k.publicKey.export({ format: 'jwk' }), { externalAad: aad });
      refuses(() => verifySign1(msg, k.publicKey), 'COSE_SIGNATURE_INVALID', 'the external AAD is signed');
    }
  });

  it('a signer returning short r/s is padded; an oversized one is refused', async () => {
    const signer: cose.CoseSigner = { alg: -7, sign: async () => ({ r: new Uint8Array(31).fill(1), s: new Uint8Array(33).fill(0).fill(2, 1) }) };
    const msg = decodeSign1(await signSign1(payload, signer));
    assert.equal(msg.signature.length, 64);
    assert.equal(msg.signature[0], 0);
    await assert.rejects(signSign1(payload, { alg: -7, sign: async () => ({ r: new Uint8Array(33).fill(1), s: new Uint8Array(32) }) }), { code: 'COSE_SIGNER_FAILED' });
    await assert.rejects(signSign1(payload, { alg: -7, sign: async () => { throw new Error('TPM gone'); } }), { code: 'COSE_SIGNER_FAILED', errorClass: 'environment' });
    await assert.rejects(signSign1(payload, { alg: -8 as -7, sign: async () => ({ r: new Uint8Array(32), s: new Uint8Array(32) }) }), { code: 'COSE_ALG_UNSUPPORTED' });
  });

  it('every flipped bit of a signed message is refused with a typed error', async () => {
    const bytes = await signSign1(payload, softwareCoseSigner(p256.privateKey), { protectedHeader: new Map([[16, 'application/eat+cwt']]) });
    const codes = new Map<string, number>();
    for (let i = 0; i < bytes.length * 8; i++) {
      const t = new Uint8Array(bytes);
      t[i >> 3]! ^= 1 << (i & 7);
      try {
        verifySign1(decodeSign1(t), p256.publicKey);
        assert.fail(`bit ${i} flipped and the message still verified`);
      } catch (e) {
        assert.ok(e instanceof cose.CborError || e instanceof cose.CoseError, `bit ${i}: ${String(e)}`);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    }
    // Flips in the protected header, payload and signature all reach signature verification.
    assert.ok((codes.get('COSE_SIGNATURE_INVALID') ?? 0) > 64 * 8, JSON.stringify([...codes]));
  });

  it('a key that does not fit the algorithm is refused', async () => {
    const msg = decodeSign1(await signSign1(payload, softwareCoseSigner(p256.privateKey)));
    refuses(() => verifySign1(msg, p384.publicKey), 'COSE_KEY_MISMATCH');
    refuses(() => verifySign1(msg, generateKeyPairSync('ed25519').publicKey), 'COSE_KEY_MISMATCH');
    refuses(() => verifySign1(msg, { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }), 'COSE_KEY_MISMATCH');
    assert.throws(() => softwareCoseSigner(generateKeyPairSync('ed25519').privateKey), { code: 'COSE_KEY_MISMATCH' });
    assert.throws(() => softwareCoseSigner(p256.publicKey), { code: 'COSE_KEY_MISMATCH' });
  });
});

describe('COSE_Sign1 structure and headers', () => {
  const sig = new Uint8Array(64);
  const body = (prot: Uint8Array, unprot: cose.CborMap = new Map(), pl: CborValue = unhex('00')) => encodeTaggedCBOR(18, [prot, unprot, pl, sig]);
  const prot = (m: Array<[cose.CborKey, CborValue]>) => encodeCBOR(new Map(m));

  it('alg missing, only unprotected, in both buckets, or of the wrong type', () => {
    refuses(() => decodeSign1(body(new Uint8Array(0))), 'COSE_ALG_MISSING');
    refuses(() => decodeSign1(body(prot([]))), 'COSE_ALG_MISSING');
    refuses(() => decodeSign1(body(new Uint8Array(0), new Map([[1, -7]]))), 'COSE_ALG_UNPROTECTED');
    refuses(() => decodeSign1(body(prot([[1, -7]]), new Map([[1, -7]]))), 'COSE_HEADER_INVALID');
    refuses(() => decodeSign1(body(prot([[1, unhex('26')]]))), 'COSE_HEADER_INVALID');
    refuses(() => decodeSign1(body(prot([[1, 'ES256']]))), 'COSE_ALG_UNSUPPORTED');
    refuses(() => decodeSign1(body(prot([[1, -37]]))), 'COSE_ALG_UNSUPPORTED'); // PS256
  });

  it('crit, kid and typ are checked', () => {
    refuses(() => decodeSign1(body(prot([[1, -7], [2, [99]], [99, 1]]))), 'COSE_CRIT_UNSUPPORTED');
    refuses(() => decodeSign1(body(prot([[1, -7], [2, [4]]]))), 'COSE_HEADER_INVALID'); // names an absent header
    refuses(() => decodeSign1(body(prot([[1, -7], [2, []]]))), 'COSE_HEADER_INVALID');
    refuses(() => decodeSign1(body(prot([[1, -7]]), new Map([[2, [1]]]))), 'COSE_HEADER_INVALID');
    refuses(() => decodeSign1(body(prot([[1, -7], [4, 'kid']]))), 'COSE_HEADER_INVALID');
    refuses(() => decodeSign1(body(prot([[1, -7], [16, -1]]))), 'COSE_HEADER_INVALID');
    const ok = decodeSign1(body(prot([[1, -7], [2, [16]], [16, 'application/eat+cwt']])));
    assert.equal(ok.alg, -7);
  });

  it('shape errors: not an array, wrong arity, wrong member types, detached payload, bad signature size', () => {
    refuses(() => decodeSign1(encodeTaggedCBOR(18, new Map())), 'COSE_MALFORMED');
    refuses(() => decodeSign1(encodeTaggedCBOR(18, [prot([[1, -7]]), new Map(), unhex('00')])), 'COSE_MALFORMED');
    refuses(() => decodeSign1(encodeTaggedCBOR(18, [new Map([[1, -7]]), new Map(), unhex('00'), sig])), 'COSE_MALFORMED');
    refuses(() => decodeSign1(encodeTaggedCBOR(18, [prot([[1, -7]]), [], unhex('00'), sig])), 'COSE_MALFORMED');
    refuses(() => decodeSign1(encodeTaggedCBOR(18, [prot([[1, -7]]), new Map(), 'text', sig])), 'COSE_MALFORMED');
    refuses(() => decodeSign1(encodeTaggedCBOR(18, [prot([[1, -7]]), new Map(), unhex('00'), 'sig'])), 'COSE_MALFORMED');
    refuses(() => decodeSign1(body(prot([[1, -7]]), new Map(), null)), 'COSE_DETACHED_PAYLOAD');
    refuses(() => decodeSign1(encodeTaggedCBOR(18, [prot([[1, -7]]), new Map(), unhex('00'), new Uint8Array(63)])), 'COSE_SIGNATURE_INVALID');
    refuses(() => decodeSign1(encodeTaggedCBOR(18, [prot([[1, -35]]), new Map(), unhex('00'), sig])), 'COSE_SIGNATURE_INVALID');
    refuses(() => decodeSign1(body(unhex('80'))), 'COSE_HEADER_INVALID'); // the protected bstr holds an array
    refuses(() => decodeSign1(body(unhex('a1'))), 'COSE_HEADER_INVALID'); // a truncated map
  });

  it('tags in the wrong places are refused', () => {
    refuses(() => decodeSign1(encodeTaggedCBOR(61, [prot([[1, -7]]), new Map(), unhex('00'), sig])), 'COSE_WRONG_TAG');
    // CWT tag 61 around tag 18: the outer tag is not COSE_Sign1.
    refuses(() => decodeSign1(unhex('d83d' + hex(body(prot([[1, -7]]))))), 'COSE_WRONG_TAG');
    // Tag 18 twice, a tag inside the array, a tag inside the protected header.
    refuses(() => decodeSign1(unhex('d2' + hex(body(prot([[1, -7]]))))), 'CBOR_TAG_NOT_ALLOWED');
    refuses(() => decodeSign1(unhex('d284' + hex(encodeCBOR(prot([[1, -7]]))) + 'a0' + 'd818' + '4100' + hex(encodeCBOR(sig)))), 'CBOR_TAG_NOT_ALLOWED');
    refuses(() => decodeSign1(body(unhex('c1a10126'))), 'COSE_HEADER_INVALID');
  });

  it('duplicate keys in either header are refused', () => {
    // {1: -7, 1: -7} in the protected bstr; {4: h'', 4: h''} unprotected.
    refuses(() => decodeSign1(body(unhex('a201260126'))), 'COSE_HEADER_INVALID');
    assert.throws(() => decodeSign1(body(unhex('a201260126'))), (e: cose.CoseError) => (e.cause as cose.CborError).code === 'CBOR_DUPLICATE_KEY');
    refuses(() => decodeSign1(unhex('d28443a10126a2044004404100' + '5840' + '00'.repeat(64))), 'CBOR_DUPLICATE_KEY');
  });
});

describe('CBOR decoding of hostile input', () => {
  it('indefinite lengths and stray breaks', () => {
    refuses(() => decodeCBOR(unhex('9f01ff')), 'CBOR_INDEFINITE_LENGTH');
    refuses(() => decodeCBOR(unhex('bf0101ff')), 'CBOR_INDEFINITE_LENGTH');
    refuses(() => decodeCBOR(unhex('5f4101ff')), 'CBOR_INDEFINITE_LENGTH');
    refuses(() => decodeCBOR(unhex('7f6161ff')), 'CBOR_INDEFINITE_LENGTH');
    refuses(() => decodeCBOR(unhex('ff')), 'CBOR_MALFORMED');
    refuses(() => decodeCBOR(unhex('1f')), 'CBOR_MALFORMED');
    refuses(() => decodeCBOR(unhex('1c')), 'CBOR_MALFORMED'); // reserved additional information 28
    refuses(() => decodeCBOR(unhex('df')), 'CBOR_TAG_NOT_ALLOWED'); // (indefinite) tag at the top
  });

  it('huge declared lengths fail before any allocation', () => {
    refuses(() => decodeCBOR(unhex('5bffffffffffffffff')), 'CBOR_TRUNCATED');
    refuses(() => decodeCBOR(unhex('7b00000000ffffffff')), 'CBOR_TRUNCATED');
    refuses(() => decodeCBOR(unhex('9bffffffffffffffff')), 'CBOR_TRUNCATED');
    refuses(() => decodeCBOR(unhex('bb00000001000000000000')), 'CBOR_TRUNCATED');
    refuses(() => decodeCBOR(unhex('9a000f4240' + '00'.repeat(100))), 'CBOR_TRUNCATED'); // 1,000,000 elements claimed, 100 present
    // Refused at the head (offset 5), before any element is read.
    assert.throws(() => decodeCBOR(unhex('9a000f4240' + '00'.repeat(100))), { details: { offset: 5 } });
    assert.throws(() => decodeCBOR(unhex('ba000f4240' + '00'.repeat(100))), { details: { offset: 5 } });
    refuses(() => decodeCBOR(unhex('1b000000')), 'CBOR_TRUNCATED');
    refuses(() => decodeCBOR(new Uint8Array(0)), 'CBOR_TRUNCATED');
  });

  it('deep nesting is refused at the cap, without recursing through the input', () => {
    const deep = (n: number) => new Uint8Array(n).fill(0x81); // [[[[…
    refuses(() => decodeCBOR(deep(100_000)), 'CBOR_TOO_DEEP');
    refuses(() => decodeCBOR(new Uint8Array([...deep(17), 0])), 'CBOR_TOO_DEEP');
    assert.ok(Array.isArray(decodeCBOR(new Uint8Array([...deep(16), 0]))));
    refuses(() => decodeCBOR(new Uint8Array([...deep(4), 0]), { maxDepth: 3 }), 'CBOR_TOO_DEEP');
    const maps = new Uint8Array(3 * 40 + 1).fill(0);
    for (let i = 0; i < 40; i++) maps.set([0xa1, 0x01], i * 2); // {1: {1: …
    refuses(() => decodeCBOR(maps), 'CBOR_TOO_DEEP');
  });

  it('too many items, too many bytes', () => {
    const arr = unhex('9a00030d41' + '00'.repeat(200_001));
    refuses(() => decodeCBOR(arr), 'CBOR_TOO_MANY_ITEMS');
    assert.equal((decodeCBOR(arr, { maxItems: 200_002 }) as number[]).length, 200_001);
    refuses(() => decodeCBOR(unhex('43010203'), { maxBytes: 3 }), 'CBOR_TOO_LARGE');
  });

  it('floats, undefined and simple values are not part of tollgate CBOR', () => {
    for (const h of ['f90000', 'fa3f800000', 'fb3ff0000000000000', 'f7', 'f0', 'f820', '81f7']) refuses(() => decodeCBOR(unhex(h)), 'CBOR_UNSUPPORTED_TYPE', h);
    assert.deepEqual(decodeCBOR(unhex('83f4f5f6')), [false, true, null]);
  });

  it('map keys: integers and text only, no duplicates (also across encodings of one integer)', () => {
    refuses(() => decodeCBOR(unhex('a201010101')), 'CBOR_DUPLICATE_KEY');
    refuses(() => decodeCBOR(unhex('a20101180101')), 'CBOR_DUPLICATE_KEY'); // 1 and 0x18 0x01
    refuses(() => decodeCBOR(unhex('a2616101616101')), 'CBOR_DUPLICATE_KEY');
    assert.equal((decodeCBOR(unhex('a20101613100')) as cose.CborMap).size, 2); // 1 and "1" differ
    refuses(() => decodeCBOR(unhex('a1410001')), 'CBOR_KEY_UNSUPPORTED');
    refuses(() => decodeCBOR(unhex('a1800001')), 'CBOR_KEY_UNSUPPORTED');
    refuses(() => decodeCBOR(unhex('a1a00001')), 'CBOR_KEY_UNSUPPORTED');
    refuses(() => decodeCBOR(unhex('a1f501')), 'CBOR_KEY_UNSUPPORTED');
    refuses(() => decodeCBOR(unhex('a11bffffffffffffffff01')), 'CBOR_KEY_UNSUPPORTED');
  });

  it('invalid UTF-8, trailing bytes, non-byte input', () => {
    refuses(() => decodeCBOR(unhex('62c328')), 'CBOR_UTF8_INVALID');
    refuses(() => decodeCBOR(unhex('63eda080')), 'CBOR_UTF8_INVALID'); // an encoded surrogate
    refuses(() => decodeCBOR(unhex('0000')), 'CBOR_TRAILING_BYTES');
    refuses(() => decodeCBOR('a0' as unknown as Uint8Array), 'CBOR_MALFORMED');
  });

  it('accepts non-preferred integer encodings unless asked for deterministic input', () => {
    for (const h of ['1817', '190017', '1a00000017', '1b0000000000000017']) {
      assert.equal(decodeCBOR(unhex(h)), 23, h); // a number, not a bigint
      refuses(() => decodeCBOR(unhex(h), { deterministic: true }), 'CBOR_NOT_DETERMINISTIC', h);
    }
    assert.equal(decodeCBOR(unhex('1bffffffffffffffff')), 2n ** 64n - 1n);
    assert.equal(decodeCBOR(unhex('3bffffffffffffffff')), -(2n ** 64n));
    refuses(() => decodeCBOR(unhex('a2020101 01'.replace(' ', '')), { deterministic: true }), 'CBOR_NOT_DETERMINISTIC');
  });

  it('decodes through cbor-x pure JS (no native helper)', () => {
    decodeCBOR(unhex('a1616101'));
    assert.equal(isNativeAccelerationEnabled, false);
  });
});

describe('CBOR deterministic encoding (RFC 8949 §4.2.1)', () => {
  it('shortest integers and lengths', () => {
    const cases: Array<[CborValue, string]> = [
      [0, '00'], [23, '17'], [24, '1818'], [255, '18ff'], [256, '190100'], [65535, '19ffff'], [65536, '1a00010000'],
      [2 ** 32 - 1, '1affffffff'], [2 ** 32, '1b0000000100000000'], [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
      [-1, '20'], [-24, '37'], [-25, '3818'], [-256, '38ff'], [-257, '390100'], [-65537, '3a00010000'],
      [-(2 ** 32), '3affffffff'], [-(2 ** 32) - 1, '3b0000000100000000'], [2n ** 64n - 1n, '1bffffffffffffffff'], [5n, '05'],
      ['', '60'], ['a'.repeat(24), '7818' + '61'.repeat(24)], [new Uint8Array(2), '420000'], [Buffer.from('hi'), '426869'],
      [[], '80'], [new Map(), 'a0'], [[true, false, null], '83f5f4f6'],
    ];
    for (const [v, h] of cases) {
      assert.equal(hex(encodeCBOR(v)), h, String(v));
      decodeCBOR(encodeCBOR(v), { deterministic: true });
    }
  });

  it('map keys in bytewise order of their encodings, whatever the insertion order', () => {
    const entries: Array<[cose.CborKey, CborValue]> = [['aa', 1], [-1, 2], ['z', 3], [100, 4], [10, 5], [1000, 6], [-100, 7]];
    const want = hex(encodeCBOR(new Map(entries)));
    // RFC 8949 §4.2.1: 10, 100, -1, "z", "aa" (then the wider ones by their first bytes).
    assert.equal(want, 'a7' + '0a05' + '186404' + '1903e806' + '2002' + '386307' + '617a03' + '62616101');
    let seed = 7;
    for (let i = 0; i < 20; i++) {
      const shuffled = [...entries];
      for (let j = shuffled.length - 1; j > 0; j--) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const k = seed % (j + 1);
        [shuffled[j], shuffled[k]] = [shuffled[k]!, shuffled[j]!];
      }
      assert.equal(hex(encodeCBOR(new Map(shuffled))), want);
    }
    const nested = new Map<cose.CborKey, CborValue>([['b', new Map([[2, 0], [1, 0]])], ['a', [new Map([['y', 0], ['x', 0]])]]]);
    decodeCBOR(encodeCBOR(nested), { deterministic: true });
  });

  it('refuses what it cannot encode deterministically', () => {
    const bad: unknown[] = [1.5, NaN, Infinity, 2 ** 53, undefined, {}, new Set(), new Date(0), '\ud800', 2n ** 64n, -(2n ** 64n), new Uint16Array(1), new Map<unknown, CborValue>([[true, 1]]), new Map<unknown, CborValue>([[2n, 1]]), () => 1, Symbol('s')];
    for (const v of bad) assert.throws(() => encodeCBOR(v as CborValue), { code: 'CBOR_ENCODE_UNSUPPORTED', errorClass: 'usage' }, String(typeof v));
    const cyc: CborValue[] = [];
    cyc.push(cyc);
    assert.throws(() => encodeCBOR(cyc), { code: 'CBOR_ENCODE_UNSUPPORTED' });
  });

  it('round trips', () => {
    const v = new Map<cose.CborKey, CborValue>([[1, 'é😀'], [-70000, [unhex('00ff'), 2n ** 63n, -(2 ** 40)]], ['k', new Map([[0, null]])]]);
    assert.deepEqual(decodeCBOR(encodeCBOR(v)), v);
    const t = decodeCBORTagged(encodeTaggedCBOR(1000, 1), { tags: [1000] });
    assert.deepEqual(t, { tag: 1000, value: 1 });
  });
});

// The counter encoding of version floors: never above the trusted version, exact for small
// versions, within 1/128 above that, monotone, and cheap for big jumps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floorOfSteps, stepsForVersion, representableFloor } from '../../tuf/floor-encoding.ts';

test('floors are exact below 256 and one step per version', () => {
  for (let v = 0n; v < 256n; v++) {
    assert.equal(stepsForVersion(v), v);
    assert.equal(floorOfSteps(v), v);
  }
});

test('the recorded floor never exceeds the version and stays within 1/128 of it', () => {
  const samples: bigint[] = [];
  for (let v = 256n; v < 70_000n; v += 7n) samples.push(v);
  for (let e = 9n; e < 64n; e++) for (const d of [-1n, 0n, 1n, 12345n]) samples.push((1n << e) + d);
  samples.push(1_700_000_000n, 2n ** 53n - 1n, 2n ** 63n);
  for (const v of samples) {
    const f = representableFloor(v);
    assert.ok(f <= v, `floor ${f} > version ${v}`);
    assert.ok((v - f) * 128n <= v, `gap too large at ${v}: floor ${f}`);
    // It is the largest representable floor: one more step overshoots.
    assert.ok(floorOfSteps(stepsForVersion(v) + 1n) > v);
  }
});

test('floorOfSteps is strictly increasing and stepsForVersion inverts it', () => {
  let prev = -1n;
  for (let s = 0n; s < 7000n; s++) {
    const f = floorOfSteps(s);
    assert.ok(f > prev, `not increasing at step ${s}`);
    assert.equal(stepsForVersion(f), s);
    prev = f;
  }
});

test('big version jumps cost few increments', () => {
  assert.ok(stepsForVersion(100_000n) < 1500n);
  assert.ok(stepsForVersion(1_700_000_000n) < 3500n);
  assert.ok(stepsForVersion(2n ** 53n) < 6200n);
});

test('negative inputs are refused', () => {
  assert.throws(() => stepsForVersion(-1n), RangeError);
  assert.throws(() => floorOfSteps(-1n), RangeError);
});

// The time-floor rule on its own: bound to the TPM clock while the TPM keeps counting, frozen at
// the stored wall time after a TPM reset/restart or a clock that went back, never below it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideTime, CLOCK_TOLERANCE_MS } from '../../tuf/timefloor.ts';

const rec = { wallMs: 1_000_000, tpmClock: '5000', resetCount: 3, restartCount: 1 };

test('same TPM boot: the floor advances with the TPM clock', () => {
  const d = decideTime(900_000, { clock: 65_000n, resetCount: 3, restartCount: 1, safe: true }, rec);
  assert.equal(d.floorMs, 1_060_000);
  assert.equal(d.referenceMs, 1_060_000);
  assert.equal(d.boundToClock, true);
  assert.equal(d.behindMs, 160_000);
});

test('after a TPM reset or restart the floor is the stored wall time', () => {
  for (const c of [{ resetCount: 4, restartCount: 1 }, { resetCount: 3, restartCount: 2 }]) {
    const d = decideTime(900_000, { clock: 99_000n, safe: true, ...c }, rec);
    assert.equal(d.floorMs, 1_000_000);
    assert.equal(d.boundToClock, false);
    assert.equal(d.referenceMs, 1_000_000);
  }
});

test('a TPM clock behind the record (unorderly shutdown) never moves the floor back', () => {
  const d = decideTime(0, { clock: 10n, resetCount: 3, restartCount: 1, safe: false }, rec);
  assert.equal(d.floorMs, 1_000_000);
});

test('a system clock ahead of the floor is used as is; small skew is not reported', () => {
  const d = decideTime(2_000_000, { clock: 5000n, resetCount: 3, restartCount: 1, safe: true }, rec);
  assert.equal(d.referenceMs, 2_000_000);
  assert.equal(d.behindMs, 0);
  const skew = decideTime(1_000_000 - CLOCK_TOLERANCE_MS + 1, { clock: 5000n, resetCount: 3, restartCount: 1, safe: true }, rec);
  assert.equal(skew.behindMs, 0);
  assert.equal(skew.referenceMs, 1_000_000);
});

test('no record: the system clock is all there is', () => {
  const d = decideTime(123, undefined, undefined);
  assert.deepEqual([d.floorMs, d.referenceMs, d.behindMs], [0, 123, 0]);
});

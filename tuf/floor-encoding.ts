// How a TUF version floor is kept in a TPM NV counter.
//
// An NV counter can only be incremented by one per command, and a repository may jump its
// timestamp version by millions (some publish Unix time as the version). Counting one step per
// version would need millions of TPM writes, so a counter holds `steps` and the floor it stands for
// grows like a float with a 7-bit mantissa: exact for versions below 256, then within 1/128 (0.8 %)
// of the true version. The floor we record is always the largest representable value that is
// <= the version we trusted, so it never exceeds the truth (no false rollback alarms) and the
// remaining gap is only old, already-superseded versions, which expiry (checked against the TPM
// bound time floor) refuses anyway. Lifetime cost: ~6,100 increments to reach 2^53, ~1,400 for
// version 100,000; a one-by-one bump of a small version costs exactly one increment.

const MANTISSA_BITS = 7n;
const M = 1n << MANTISSA_BITS; // 128

/** Version floor represented by `steps` counter increments above the baseline. */
export function floorOfSteps(steps: bigint): bigint {
  if (steps < 0n) throw new RangeError('negative steps');
  const e = steps / M;
  const m = steps % M;
  if (e === 0n) return m;
  return (M + m) << (e - 1n);
}

function bitLength(v: bigint): bigint {
  return BigInt(v.toString(2).length);
}

/** Largest step count whose floor is <= version. */
export function stepsForVersion(version: bigint): bigint {
  if (version < 0n) throw new RangeError('negative version');
  if (version < 2n * M) return version;
  const e = bitLength(version) - MANTISSA_BITS; // >= 2
  const m = (version >> (e - 1n)) - M;
  return e * M + m;
}

/** The floor actually recorded for a trusted version (<= version). */
export function representableFloor(version: bigint): bigint {
  return floorOfSteps(stepsForVersion(version));
}

/**
 * Scaled error of a tensor against a reference: max|actual − expected| / max|expected|.
 * When the reference is all zeros, the absolute error is used. NaN anywhere gives Infinity.
 */
export function scaledError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= maxDiff)) {
      if (Number.isNaN(d)) return Infinity;
      maxDiff = d;
    }
    const e = Math.abs(expected[i]);
    if (e > maxRef) maxRef = e;
  }
  return maxRef > 0 ? maxDiff / maxRef : maxDiff;
}

/** Scaled error of a scalar: |a − e| / |e| (absolute when e is 0). */
export function scalarError(actual: number, expected: number): number {
  const d = Math.abs(actual - expected);
  if (Number.isNaN(d)) return Infinity;
  return expected !== 0 ? d / Math.abs(expected) : d;
}

/**
 * Test-only data shared by the backend's test suites (not exported by the package): the shapes
 * every recurrence test runs, so the conformance tests and the wasm GRU kernel tests cover the
 * same edge cases.
 */

/**
 * [T, B, H, reverse] of the recurrence tests: one step of one row, hidden sizes of every residue
 * mod 4 and 8, one sequence, both directions, and (the last) past a panel of 8 with a partial one.
 */
export const RECURRENCE_SHAPES: readonly (readonly [number, number, number, boolean])[] = [
  [1, 1, 1, false],
  [4, 3, 5, false],
  [4, 3, 5, true],
  [3, 1, 9, true],
  [5, 2, 16, false],
  [2, 5, 33, true],
  [3, 7, 13, false],
  [3, 6, 70, true],
];

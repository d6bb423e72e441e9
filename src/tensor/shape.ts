import { NonFiniteError, ShapeError } from "./errors.js";

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Throws ShapeError unless `data` holds exactly numel(shape) elements. */
export function checkLength(
  tensor: string,
  data: ArrayLike<number>,
  shape: readonly number[],
  legend = "",
): void {
  if (data.length !== numel(shape))
    throw new ShapeError(tensor, shape, data.length, legend ? ` for ${legend}` : "");
}

/** Throws NonFiniteError at the first NaN or ±Infinity in `data`. */
export function checkFinite(tensor: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v - v is NaN exactly when v is NaN or ±Infinity; one compare per element.
    if (v - v !== 0) throw new NonFiniteError(tensor, i, v);
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

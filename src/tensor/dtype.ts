/** Element types. float32 is the default (speed); float64 is for checking against references. */
export type DType = "float32" | "float64";
/** The buffer of a dtype: Float32Array or Float64Array. */
export type FloatArray = Float32Array | Float64Array;

export function allocFloat(dtype: DType, n: number): FloatArray {
  return dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
}

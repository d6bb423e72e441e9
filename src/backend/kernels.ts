import type { FloatArray } from "../tensor/dtype.js";

/**
 * The kernels every backend provides. Arrays are flat; each operand is (array, offset, leading
 * dimension), BLAS style, so layers address rows inside one flat buffer without allocating
 * views in the time loop. Argument order: outputs, inputs, parameters, sizes.
 *
 * Letters: B batch, H hidden, M/N/K matrix sizes.
 */
export interface Kernels {
  readonly name: string;

  /** Element types this backend computes in (the js reference: both; wasm: float32). */
  readonly dtypes: readonly ("float32" | "float64")[];

  /**
   * Present when operands must live in memory the backend owns (WebAssembly linear memory).
   * A model then allocates params, grads and workspace from one `KernelMemory` and passes
   * `memory.view()` with element offsets to every kernel.
   */
  createMemory?(options?: MemoryOptions): KernelMemory;

  /**
   * C[M,N] = beta·C + op(A)[M,K] · op(B)[K,N], with beta 0 (overwrite) or 1 (accumulate).
   * op(A) = A (stored [M,K], row stride lda) or Aᵀ (stored [K,M]); likewise op(B).
   */
  gemm(
    c: FloatArray,
    cOff: number,
    ldc: number,
    a: FloatArray,
    aOff: number,
    lda: number,
    transA: boolean,
    b: FloatArray,
    bOff: number,
    ldb: number,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    beta: 0 | 1,
  ): void;

  /** out[r, j] = b1[j] + b2[j] for r < rows, j < cols (row stride ldOut). */
  fillBias(
    out: FloatArray,
    outOff: number,
    ldOut: number,
    b1: FloatArray,
    b1Off: number,
    b2: FloatArray | null,
    b2Off: number,
    rows: number,
    cols: number,
  ): void;

  /** out[j] += Σ_r x[r, j] (column sums, e.g. bias gradients). */
  addColumnSums(
    out: FloatArray,
    outOff: number,
    x: FloatArray,
    xOff: number,
    ldx: number,
    rows: number,
    cols: number,
  ): void;

  /**
   * One LSTM step for B rows, gate blocks i, f, g, o (PyTorch order).
   * In:  gates[B,4H] pre-activations a = W_ih x + b_ih + W_hh h_prev + b_hh; cPrev[B,H].
   * Out: gates[B,4H] overwritten in place by σ(a_i), σ(a_f), tanh(a_g), σ(a_o);
   *      c[B,H] = f⊙c_prev + i⊙g; tanhC[B,H] = tanh(c); h[B,H] (row stride ldh) = o⊙tanh(c).
   */
  lstmCellForward(
    gates: FloatArray,
    gOff: number,
    c: FloatArray,
    cOff: number,
    tanhC: FloatArray,
    tcOff: number,
    h: FloatArray,
    hOff: number,
    ldh: number,
    cPrev: FloatArray,
    cpOff: number,
    batch: number,
    hidden: number,
  ): void;

  /**
   * Inverts lstmCellForward for one step.
   * In:  dy[B,H] (row stride ldy) the loss gradient reaching h_t from above; dhNext[B,H] the
   *      gradient reaching h_t from step t+1; dc[B,H] the gradient reaching c_t from step t+1;
   *      the saved gates, cPrev, tanhC of this step.
   * Out: dPre[B,4H] = ∂loss/∂a (pre-activation); dc[B,H] overwritten by dc_t⊙f, the part of ∂loss/∂c_{t-1} that flows through c_t
   *      (step t−1 adds its own dh·o·(1 − tanh²) term).
   */
  lstmCellBackward(
    dPre: FloatArray,
    dpOff: number,
    dc: FloatArray,
    dcOff: number,
    dy: FloatArray,
    dyOff: number,
    ldy: number,
    dhNext: FloatArray,
    dhOff: number,
    gates: FloatArray,
    gOff: number,
    cPrev: FloatArray,
    cpOff: number,
    tanhC: FloatArray,
    tcOff: number,
    batch: number,
    hidden: number,
  ): void;

  /**
   * The forward recurrence of one LSTM direction over T steps (F2–F5 of docs/derivation.md):
   * for s = 0…T−1 and t = s (T−1−s when reverse), gates_t += h_{t−1}·W_hhᵀ, then
   * lstmCellForward on step t, with h_{−1} = h0 and c_{−1} = c0 [B,H].
   * act holds gates [T,B,4H] (W_ih x_t + both biases on entry, activations on exit),
   * c [T,B,H] and tanhC [T,B,H]; y [T,B,H] (row stride ldy) receives h_t; w is W_hh [4H,H];
   * work: stepsWorkSize(H) elements the backend may use (to pack W_hh once for all steps).
   * Results equal those of the per-step gemm and lstmCellForward calls (`forwardSteps` in
   * steps.ts composes it from them); a backend may run the whole loop in one call.
   */
  lstmForwardSteps(
    act: FloatArray,
    gOff: number,
    cOff: number,
    tcOff: number,
    y: FloatArray,
    yOff: number,
    ldy: number,
    h0: FloatArray,
    h0Off: number,
    c0: FloatArray,
    c0Off: number,
    w: FloatArray,
    wOff: number,
    work: FloatArray,
    workOff: number,
    steps: number,
    batch: number,
    hidden: number,
    reverse: boolean,
  ): void;

  /**
   * Backward through the recurrence (inverts F5–F2): for s = T−1…0, lstmCellBackward on step t
   * (dhNext = dh, c_{t−1} = c0 at s = 0), then dh = dPre_t·W_hh.
   * scratch holds dPre [T,B,4H] (written), dh and dc [B,H]: the gradients reaching h_t and c_t
   * from step t+1 (the loss's on entry), on exit what reaches h0 and c0. dy [T,B,H] (row stride
   * ldy); act as lstmForwardSteps left it; w is W_hh [4H,H]; work as for lstmForwardSteps.
   * Equal to the per-step calls (`backwardSteps` in steps.ts).
   */
  lstmBackwardSteps(
    scratch: FloatArray,
    dpOff: number,
    dhOff: number,
    dcOff: number,
    dy: FloatArray,
    dyOff: number,
    ldy: number,
    act: FloatArray,
    gOff: number,
    cOff: number,
    tcOff: number,
    c0: FloatArray,
    c0Off: number,
    w: FloatArray,
    wOff: number,
    work: FloatArray,
    workOff: number,
    steps: number,
    batch: number,
    hidden: number,
    reverse: boolean,
  ): void;
}

/** Options for a kernel memory: how many threads its operations may use. */
export interface MemoryOptions {
  /**
   * Threads the kernels may use on operands of this memory (default 1). The wasm backend splits
   * large matrix products across workers sharing the memory, with results identical to one
   * thread; where threads are unavailable it uses one, silently.
   */
  threads?: number;
}

/** Float32 memory owned by a backend (e.g. one WebAssembly instance's linear memory). */
export interface KernelMemory {
  /** Reserves n float32 elements, 16-byte aligned; returns the element offset. May grow memory. */
  alloc(n: number): number;
  /** A Float32Array over the whole current memory. Growing replaces it: call again after alloc. */
  view(): Float32Array;
  /** Returns a block from `alloc(n)` (same n) for reuse. */
  free?(offset: number, n: number): void;
  /** Threads the kernels use on this memory (1 where threads were not asked for or unavailable). */
  readonly threads?: number;
  /**
   * Stops the worker threads, if any (the memory stays usable, on one thread). Dropped memories
   * are also cleaned up on garbage collection; idle workers never keep a Node process alive.
   */
  dispose?(): void;
}

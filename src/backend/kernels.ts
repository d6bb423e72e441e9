import type { FloatArray } from "../tensor/dtype.js";

/**
 * Operands are named descriptors over flat arrays, BLAS style, so layers address rows inside one
 * flat buffer without allocating copies in the time loop.
 */

/** A [rows, cols] operand with row stride ld: element (r, j) is buf[off + r·ld + j]. */
export interface Strided {
  readonly buf: FloatArray;
  readonly off: number;
  readonly ld: number;
}

/**
 * A contiguous operand: element i is buf[off + i]. A [rows, cols] block of it has row stride
 * cols (the kernel's natural width, e.g. H for a state, 4H for gates).
 */
export interface Block {
  readonly buf: FloatArray;
  readonly off: number;
}

/** What a product computes: C[M,N] = beta·C + op(A)[M,K] · op(B)[K,N]. */
export interface GemmOp {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** op(A) = Aᵀ (A stored [K,M]) instead of A (stored [M,K]); likewise op(B). */
  readonly transA: boolean;
  readonly transB: boolean;
  /** 0 overwrites C, 1 accumulates into it. */
  readonly beta: 0 | 1;
}

/** Rows and width of one step of a cell: B rows (batch) of H units. */
export interface CellDims {
  readonly B: number;
  readonly H: number;
}

/**
 * One direction's recurrence over T steps of B rows of H units; `reverse` consumes t = T−1 first
 * (the per-direction plan a layer hands the steps kernels).
 */
export interface StepPlan {
  readonly T: number;
  readonly B: number;
  readonly H: number;
  readonly reverse: boolean;
  /**
   * Per-row lengths (packed-sequence semantics); absent or null: every row takes all T steps.
   * Rows must be sorted longest first, so the rows taking part in a step are a prefix.
   */
  readonly rows?: RowLengths | null;
}

/**
 * Variable-length rows sorted longest first (PyTorch's packed sequences): row b consumes
 * x_0 … x_{len_b − 1} only, so step t computes rows [0, batchSizes[t]) and nothing else.
 */
export interface RowLengths {
  /** [B] each row's length in [1, T], nonincreasing. */
  readonly lengths: Int32Array;
  /** [T] rows taking part in step t: #{b : lengths[b] > t} (nonincreasing, batchSizes[0] = B). */
  readonly batchSizes: Int32Array;
  /**
   * batchSizes as numbers [T] in the operands' buffer, for backends whose kernels read only their
   * own memory (wasm); without it they compose the steps from per-step calls.
   */
  readonly stored?: Block | null;
}

/**
 * Which rows step s of a direction computes, and where their previous state comes from:
 * rows [0, cont) continue from step tPrev, rows [cont, n) start from the initial state (all rows
 * on the first step; with lengths, a reverse direction's rows whose last valid step is t).
 */
export interface StepRows {
  /** The time index consumed. */
  readonly t: number;
  /** The step whose state rows [0, cont) continue from (t − 1, or t + 1 when reverse). */
  readonly tPrev: number;
  /** Rows computed: [0, n). */
  readonly n: number;
  /** Rows [0, cont) continue from tPrev; [cont, n) start from h0 (and c0). */
  readonly cont: number;
}

/** The rows step s (0 = first consumed) of `plan` computes (see StepRows). */
export function stepRows(plan: StepPlan, s: number): StepRows {
  const { T, B, reverse } = plan;
  const t = reverse ? T - 1 - s : s;
  const tPrev = reverse ? t + 1 : t - 1;
  const sizes = plan.rows?.batchSizes;
  const n = sizes ? sizes[t] : B;
  if (s === 0) return { t, tPrev, n, cont: 0 };
  // Forward, every active row was active at t − 1; reverse, only those active at t + 1 were.
  const cont = reverse && sizes ? Math.min(sizes[t + 1], n) : n;
  return { t, tPrev, n, cont };
}

/** Rows [r0, r1) of step t: continuing from step tPrev's state, or from the initial state. */
export interface RowGroup {
  readonly t: number;
  readonly tPrev: number;
  readonly r0: number;
  readonly r1: number;
  /** Rows that start from h0 (and c0) at this step (stepRows: r0 = cont). */
  readonly fromInit: boolean;
}

/**
 * Walks the steps of `plan` in the order a pass consumes them (forward s = 0…T−1, backward
 * s = T−1…0): for each step, `group` on each non-empty row group (stepRows: [0, cont) continuing
 * from tPrev, then [cont, n) from the initial state), then `after` once with the step's rows.
 */
export function eachStep(
  plan: StepPlan,
  backward: boolean,
  group: (g: RowGroup) => void,
  after?: (rows: StepRows) => void,
): void {
  for (let i = 0; i < plan.T; i++) {
    const rows = stepRows(plan, backward ? plan.T - 1 - i : i);
    const { t, tPrev, n, cont } = rows;
    if (cont > 0) group({ t, tPrev, r0: 0, r1: cont, fromInit: false });
    if (n > cont) group({ t, tPrev, r0: cont, r1: n, fromInit: true });
    after?.(rows);
  }
}

/** RowLengths of sorted lengths (nonincreasing, each in [1, T]). */
export function rowLengths(sorted: Int32Array, T: number): RowLengths {
  const batchSizes = new Int32Array(T);
  for (let b = 0; b < sorted.length; b++) for (let t = 0; t < sorted[b]; t++) batchSizes[t]++;
  return { lengths: sorted, batchSizes };
}

/**
 * What an LSTM forward saves for backward, in one buffer: gates [T,B,4H] (post-activation
 * i, f, g, o), c [T,B,H] and tanhC [T,B,H], at element offsets.
 */
export interface LstmSaved {
  readonly buf: FloatArray;
  readonly gates: number;
  readonly c: number;
  readonly tanhC: number;
}

/** Operands of one LSTM cell step forward (blocks of B rows; shapes at lstmCellForward). */
export interface LstmCellForwardIO {
  /** Shape [B,4H]: pre-activations in, activations out. */
  readonly gates: Block;
  readonly c: Block;
  readonly tanhC: Block;
  readonly h: Strided;
  readonly cPrev: Block;
}

/** Operands of one LSTM cell step backward (shapes at lstmCellBackward). */
export interface LstmCellBackwardIO {
  readonly dPre: Block;
  readonly dc: Block;
  readonly dy: Strided;
  readonly dhNext: Block;
  readonly gates: Block;
  readonly cPrev: Block;
  readonly tanhC: Block;
}

/** Operands of the forward recurrence (shapes at lstmForwardSteps). */
export interface LstmForwardStepsIO {
  readonly act: LstmSaved;
  readonly y: Strided;
  readonly h0: Block;
  readonly c0: Block;
  /** W_hh [4H,H]. */
  readonly w: Block;
  /** stepsWorkSize(H) elements the backend may use. */
  readonly work: Block;
}

/** The backward recurrence's own buffers: dPre [T,B,4H], dh and dc [B,H], at offsets of buf. */
export interface LstmStepsScratch {
  readonly buf: FloatArray;
  readonly dPre: number;
  readonly dh: number;
  readonly dc: number;
}

/** Operands of the backward recurrence (shapes at lstmBackwardSteps). */
export interface LstmBackwardStepsIO {
  readonly scratch: LstmStepsScratch;
  readonly dy: Strided;
  readonly act: LstmSaved;
  readonly c0: Block;
  readonly w: Block;
  readonly work: Block;
}

/**
 * What a GRU forward saves for backward: gates [T,B,3H] (post-activation r, z, n) and hg
 * [T,B,3H] (W_hh h_{t−1} + b_hh; backward reads its n block), at element offsets of buf.
 */
export interface GruSaved {
  readonly buf: FloatArray;
  readonly gates: number;
  readonly hg: number;
}

/** Operands of one GRU cell step forward (shapes at gruCellForward). */
export interface GruCellForwardIO {
  /** Shape [B,3H]. In: xg = W_ih x + b_ih; out: r, z, n. */
  readonly gates: Block;
  /** Shape [B,3H]. In: W_hh h_prev; out: W_hh h_prev + b_hh. */
  readonly hg: Block;
  /** b_hh, shape [3H]. */
  readonly bhh: Block;
  readonly h: Strided;
  readonly hPrev: Strided;
}

/** Operands of one GRU cell step backward (shapes at gruCellBackward). */
export interface GruCellBackwardIO {
  /** Out, shape [B,3H] each: ∂loss/∂xg and ∂loss/∂hg. */
  readonly dXg: Block;
  readonly dHg: Block;
  /** Shape [B,H]. In: the gradient reaching h_t from step t+1; out: dh_t ⊙ z. */
  readonly dh: Block;
  readonly dy: Strided;
  readonly gates: Block;
  readonly hg: Block;
  readonly hPrev: Strided;
}

/** Operands of the GRU forward recurrence (shapes at gruForwardSteps). */
export interface GruForwardStepsIO {
  readonly act: GruSaved;
  readonly y: Strided;
  readonly h0: Block;
  /** W_hh [3H,H] and b_hh [3H]. */
  readonly w: Block;
  readonly bhh: Block;
  /** stepsWorkSize(H) elements the backend may use. */
  readonly work: Block;
}

/** The GRU backward recurrence's own buffers: dXg, dHg [T,B,3H] and dh [B,H], at offsets of buf. */
export interface GruStepsScratch {
  readonly buf: FloatArray;
  readonly dXg: number;
  readonly dHg: number;
  readonly dh: number;
}

/** Operands of the GRU backward recurrence (shapes at gruBackwardSteps). */
export interface GruBackwardStepsIO {
  readonly scratch: GruStepsScratch;
  readonly dy: Strided;
  readonly act: GruSaved;
  /** What forward read and wrote: h_{t−1} comes from y (h0 on the first consumed step). */
  readonly y: Strided;
  readonly h0: Block;
  readonly w: Block;
  readonly work: Block;
}

/**
 * The kernels every backend provides. Each takes its operands as named descriptors (outputs
 * first, then inputs) and its sizes as one small object.
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

  /** c = beta·c + op(a)·op(b), as `op` says (shapes there). */
  gemm(c: Strided, a: Strided, b: Strided, op: GemmOp): void;

  /** out[r, j] = b1[j] + b2[j] (b1[j] when b2 is null) for r < rows, j < cols. */
  fillBias(out: Strided, b1: Block, b2: Block | null, rows: number, cols: number): void;

  /** out[j] += Σ_r x[r, j] for j < cols (column sums, e.g. bias gradients). */
  addColumnSums(out: Block, x: Strided, rows: number, cols: number): void;

  /**
   * One LSTM step for B rows, gate blocks i, f, g, o (PyTorch order).
   * In:  gates[B,4H] pre-activations a = W_ih x + b_ih + W_hh h_prev + b_hh; cPrev[B,H].
   * Out: gates[B,4H] overwritten in place by σ(a_i), σ(a_f), tanh(a_g), σ(a_o);
   *      c[B,H] = f⊙c_prev + i⊙g; tanhC[B,H] = tanh(c); h[B,H] (row stride h.ld) = o⊙tanh(c).
   */
  lstmCellForward(io: LstmCellForwardIO, dims: CellDims): void;

  /**
   * Inverts lstmCellForward for one step.
   * In:  dy[B,H] (row stride dy.ld) the loss gradient reaching h_t from above; dhNext[B,H] the
   *      gradient reaching h_t from step t+1; dc[B,H] the gradient reaching c_t from step t+1;
   *      the saved gates [B,4H], cPrev, tanhC [B,H] of this step.
   * Out: dPre[B,4H] = ∂loss/∂a (pre-activation); dc[B,H] overwritten by dc_t⊙f, the part of
   *      ∂loss/∂c_{t-1} that flows through c_t (step t−1 adds its own dh·o·(1 − tanh²) term).
   */
  lstmCellBackward(io: LstmCellBackwardIO, dims: CellDims): void;

  /**
   * The forward recurrence of one LSTM direction over T steps (F2–F5 of docs/derivation.md):
   * for s = 0…T−1 and t = s (T−1−s when reverse), gates_t += h_{t−1}·W_hhᵀ, then
   * lstmCellForward on step t, with h_{−1} = h0 and c_{−1} = c0 [B,H].
   * act holds gates [T,B,4H] (W_ih x_t + both biases on entry, activations on exit),
   * c [T,B,H] and tanhC [T,B,H]; y [T,B,H] (row stride y.ld) receives h_t; w is W_hh [4H,H];
   * work: stepsWorkSize(H) elements the backend may use (to pack W_hh once for all steps).
   * Results equal those of the per-step gemm and lstmCellForward calls (`forwardSteps` in
   * steps.ts composes it from them); a backend may run the whole loop in one call.
   */
  lstmForwardSteps(io: LstmForwardStepsIO, plan: StepPlan): void;

  /**
   * Backward through the recurrence (inverts F5–F2): for s = T−1…0, lstmCellBackward on step t
   * (dhNext = dh, c_{t−1} = c0 at s = 0), then dh = dPre_t·W_hh.
   * scratch holds dPre [T,B,4H] (written), dh and dc [B,H]: the gradients reaching h_t and c_t
   * from step t+1 (the loss's on entry), on exit what reaches h0 and c0. dy [T,B,H] (row stride
   * dy.ld); act as lstmForwardSteps left it; w is W_hh [4H,H]; work as for lstmForwardSteps.
   * Equal to the per-step calls (`backwardSteps` in steps.ts).
   */
  lstmBackwardSteps(io: LstmBackwardStepsIO, plan: StepPlan): void;

  /**
   * One GRU step for B rows, gate blocks r, z, n (PyTorch order; docs/derivation.md §7).
   * In:  gates[B,3H] = xg = W_ih x + b_ih; hg[B,3H] = W_hh h_prev; bhh[3H]; hPrev[B,H].
   * Out: hg += b_hh; gates = r = σ(xg_r + hg_r), z = σ(xg_z + hg_z), n = tanh(xg_n + r⊙hg_n);
   *      h[B,H] = n + z⊙(h_prev − n).
   */
  gruCellForward(io: GruCellForwardIO, dims: CellDims): void;

  /**
   * Inverts gruCellForward for one step (GB1–GB4).
   * In:  dy[B,H] from above; dh[B,H] from step t+1; the saved gates, hg [B,3H] and hPrev.
   * Out: dXg[B,3H] = ∂loss/∂xg; dHg[B,3H] = ∂loss/∂hg; dh overwritten by dh_t⊙z (the direct
   *      path to h_{t−1}; the steps loop adds dHg·W_hh).
   */
  gruCellBackward(io: GruCellBackwardIO, dims: CellDims): void;

  /**
   * The forward recurrence of one GRU direction over T steps (G2–G5): for s = 0…T−1 and
   * t = s (T−1−s when reverse), hg_t = h_{t−1}·W_hhᵀ, then gruCellForward on step t, h_{−1} = h0.
   * act: gates [T,B,3H] (xg on entry, r, z, n on exit), hg [T,B,3H] (written); y [T,B,H]
   * (row stride y.ld) receives h_t; w is W_hh [3H,H], bhh b_hh [3H]; work as for the LSTM.
   * Equal to the per-step calls (`gruForwardSteps` in steps.ts).
   */
  gruForwardSteps(io: GruForwardStepsIO, plan: StepPlan): void;

  /**
   * Backward through the GRU recurrence (GB1–GB6): for s = T−1…0, gruCellBackward on step t,
   * then dh += dHg_t·W_hh. scratch: dXg, dHg [T,B,3H] (written), dh [B,H] (the gradient
   * reaching h_{T−1} from beyond on entry, ∂loss/∂h0 on exit). Equal to the per-step calls
   * (`gruBackwardSteps` in steps.ts).
   */
  gruBackwardSteps(io: GruBackwardStepsIO, plan: StepPlan): void;
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

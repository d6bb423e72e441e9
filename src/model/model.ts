/**
 * An LSTM or GRU stack (L layers, D directions) with a linear head: parameters, gradients, and a
 * workspace sized once per (T, B) shape. Forward keeps what backward needs; backward is exact
 * BPTT over the whole sequence and accumulates (+=) into `grads` until `zeroGrad()`.
 *
 * Letters: B batch, T time, I input, H hidden, P projection (Hout = P or H), L layers,
 * D directions, O head outputs, V vocabulary (embedding rows), E = I embedding width.
 */
import { getBackend, type Kernels } from "../backend/index.js";
import type { Block, KernelMemory, RowLengths, Strided } from "../backend/kernels.js";
import { rowLengths } from "../backend/kernels.js";
import { stepsWorkSize } from "../backend/steps.js";
import type { DirectionParams } from "../layers/cell.js";
import { addMasked, drawMask, givenMask, maskInto, scaleByMask } from "../layers/dropout.js";
import { embeddingBackward, embeddingForward, tokenRows } from "../layers/embedding.js";
import { linearBackward, linearForward, type LinearParams } from "../layers/linear.js";
import { gruCell, type GruBackwardIO, type GruDirection } from "../layers/gru.js";
import {
  lstmCell,
  type LstmBackwardIO,
  type LstmDirection,
  type LstmForwardIO,
} from "../layers/lstm.js";
import { allocFloat, type DType, type FloatArray } from "../tensor/dtype.js";
import { ConfigError, LstmError, NonFiniteError, ShapeError } from "../tensor/errors.js";
import { OffsetTable } from "../tensor/offsets.js";
import type { Rng } from "../tensor/rng.js";
import { checkFinite, checkLength, sameShape } from "../tensor/shape.js";
import {
  cellOf,
  hiddenOut,
  layerSuffix,
  makeConfig,
  MAX_ELEMENTS,
  numDirections,
  paramLayout,
  type ModelConfig,
  type ModelConfigInput,
} from "./config.js";

/** How a model computes: dtype, kernel backend and threads. */
export interface ModelOptions {
  /** Element type of every buffer. Default float32. */
  dtype?: DType;
  /** Kernel backend name (default: the fastest available). */
  backend?: string;
  /**
   * Threads for the large matrix products (default 1): the wasm backend splits them across
   * threads − 1 workers sharing the model's memory, with results bit-identical to one thread.
   * Node: worker_threads. Browsers: Web Workers, which need a cross-origin isolated page for
   * SharedArrayBuffer, and `await initWasm({ threads })` first on the main thread. Where threads
   * are unavailable, and on backends without their own memory ("js"), the model silently uses
   * one thread (`model.threads` says how many it uses). Call `dispose()` to stop the workers early.
   */
  threads?: number;
}

/**
 * What the head reads: every step (sequence-to-sequence), the last step (each row's last valid
 * step with lengths), or the final states h_n of the last layer's directions concatenated
 * ([forward | reverse], sequence classification: the `xent_final` loss).
 */
export type Readout = "all" | "last" | "final";

/** Shape and initial state of one forward pass. */
export interface ForwardOptions {
  /** T: time steps. */
  seqLen: number;
  /** B: sequences in the batch. */
  batch: number;
  /** x, y and the head output are [B, T, ·] instead of [T, B, ·]. h0/c0 are always [L·D, B, ·]. */
  batchFirst?: boolean;
  /** Initial hidden state [L·D, B, Hout]; zeros when omitted. */
  h0?: ArrayLike<number>;
  /** Initial cell state [L·D, B, H]; zeros when omitted (LSTM only: a GRU has none). */
  c0?: ArrayLike<number>;
  /** Default "all". */
  readout?: Readout;
  /**
   * Each row's length [B], integers in [1, T] in any order (PyTorch's packed sequences with
   * `enforce_sorted=False`): row b consumes x at t < len_b only; y is zero past it; h_n, c_n
   * are the state after its last valid step; a reverse direction starts at t = len_b − 1.
   * Rows run sorted longest first inside, so a step computes only the rows still active.
   * Not with output dropout on y (readout "all" or "last") yet.
   */
  lengths?: ArrayLike<number>;
  /**
   * Check every parameter for NaN/±Infinity first (default true). That is O(P) per call: a
   * streaming caller running one step at a time may check once and then pass false.
   */
  checkParams?: boolean;
  /**
   * x holds token ids [T, B] (or [B, T]) standing for one-hot rows of width I (dense input
   * only): the first layer's input product is then a column gather of W_ih and its gradient a
   * scatter-add (no [T·B, I]·[I, G] product). BackwardResult.dx is then empty.
   */
  oneHot?: boolean;
  /**
   * "train" applies the configuration's dropout, "eval" (the default) never drops: evaluation,
   * sampling and forecasting run in eval mode.
   */
  mode?: "train" | "eval";
  /** Train mode: the generator the dropout masks are drawn from (same state, same masks). */
  rng?: Rng;
  /**
   * Train mode: given 0/1 masks instead of drawn ones, in x's layout: `input` [T, B, I],
   * `between_l{k}` and `output` [T, B, D·Hout] (`output` [B, D·Hout] for readout "final": on the
   * final-state vector); a missing one drops nothing there (fixtures).
   */
  dropoutMasks?: Readonly<Record<string, ArrayLike<number>>>;
}

/** Views into the workspace: valid until the next forward or backward; copy to keep. */
export interface ForwardResult {
  /** Last layer's hidden states before output dropout, [T, B, D·Hout] (or [B, T, D·Hout]). */
  readonly y: FloatArray;
  /** Final states of every layer and direction, [L·D, B, Hout] and [L·D, B, H]. */
  readonly hN: FloatArray;
  /** [L·D, B, H] for the LSTM; empty (length 0) for the GRU, which has no cell state. */
  readonly cN: FloatArray;
  /** Head output: [T, B, O] (or [B, T, O]) for readout "all", [B, O] for "last" and "final". */
  readonly output: FloatArray;
}

/** Gradients flowing into `backward` besides the head output's. */
export interface BackwardOptions {
  /** Extra gradient on y, same layout as ForwardResult.y. */
  dY?: ArrayLike<number>;
  /** Gradient on the final states h_n [L·D, B, Hout], c_n [L·D, B, H] (e.g. from a later window). */
  dHN?: ArrayLike<number>;
  dCN?: ArrayLike<number>;
  /**
   * Whether to compute ∂loss/∂x (default true). Training the weights does not need it: false
   * skips the input-gradient product of the first layer (a [T·B, 4H]·[4H, I] product per
   * direction) and leaves BackwardResult.dx empty.
   */
  inputGrad?: boolean;
}

/** Views into the workspace: valid until the next forward or backward; copy to keep. */
export interface BackwardResult {
  /** ∂loss/∂x, the layout of x; empty (length 0) with inputGrad: false or token input. */
  readonly dx: FloatArray;
  /** ∂loss/∂h0 [L·D, B, Hout], ∂loss/∂c0 [L·D, B, H] (dc0 empty for the GRU). */
  readonly dh0: FloatArray;
  readonly dc0: FloatArray;
}

interface Pass {
  T: number;
  B: number;
  batchFirst: boolean;
  readout: Readout;
  /** Time-major token ids [T·B] (embedding input), else null. */
  ids: Int32Array | null;
  /** Time-major one-hot ids [T·B] the first layer gathers W_ih columns by, else null. */
  oneHotIds: Int32Array | null;
  drop: DropPass;
  sort: RowSort | null;
}

/** Rows sorted longest first: sorted row i is the caller's row perm[i]. */
interface RowSort {
  readonly perm: Int32Array;
  /** Each caller row's length. */
  readonly lengths: Int32Array;
  /** The sorted lengths and the rows per step. */
  readonly rows: RowLengths;
}

/** Where the pass applied dropout: on the input, and on each layer's output. */
interface DropPass {
  readonly input: boolean;
  /** [layer]: its output was dropped (between layers, or before the head for the last). */
  readonly after: readonly boolean[];
}

/** One layer's slots in a workspace (absolute element offsets). */
interface LayerPlan {
  /** [T, B, D·Hout] the layer's output, forward half then reverse half. */
  readonly y: number;
  /** [T, B, D·Hout] y ⊙ mask (what the next layer or the head reads when dropped), and the mask. */
  readonly dropped: number;
  readonly mask: number;
  /** [T, B, D·Hout] ∂loss/∂y. */
  readonly dY: number;
  /** [direction]: parameter offsets and saved activations (of the configured cell). */
  readonly dirs: readonly (LstmDirection | GruDirection)[];
}

/**
 * Where everything sized by (T, B) lives: absolute element offsets into the workspace's buffer,
 * computed once per shape (no names are looked up while the model runs).
 */
interface WorkspacePlan {
  /** Elements of the region (from its first slot). */
  readonly total: number;
  readonly x: number; // [T, B, I] time-major copy of the input (embedded rows for tokens)
  readonly maskIn: number; // [T, B, I] input dropout's factors
  readonly h0: number; // [L·D, B, Hout], likewise hN; c0, cN [L·D, B, H]
  readonly c0: number;
  readonly hN: number;
  readonly cN: number;
  readonly layers: readonly LayerPlan[];
  readonly z: number; // [T·B, O] head output, time-major rows
  readonly out: number; // [T·B, O] head output in the caller's layout
  readonly yOut: number; // [T, B, D·H] y in the caller's layout (batch-first only)
  readonly dz: number; // [T·B, O]
  readonly dHead: number; // [T, B, D·Hout] ∂loss/∂(dropped y) with output dropout
  /** Backward's scratch: dPre [T, B, gates·H], dh and dc [B, H], the steps kernels' work. */
  readonly dPre: number;
  /** GRU only: ∂loss/∂hg [T, B, 3H] (dPre holds ∂loss/∂xg); empty for the LSTM. */
  readonly dHg: number;
  readonly dh: number;
  readonly dc: number;
  readonly dRaw: number; // [B, H] with a projection, likewise zeros
  readonly zeros: number;
  readonly stepsWork: number; // the steps kernels' workspace (forward and backward)
  readonly dx: number; // [T, B, I]
  readonly dxOut: number;
  readonly dh0: number; // [L·D, B, Hout], likewise dhN; dc0, dcN [L·D, B, H]
  readonly dc0: number;
  readonly dhN: number;
  readonly dcN: number;
  /** With lengths, the layers run on sorted rows: their states here (caller order above). */
  readonly sorted: SortedPlan;
  readonly hRead: number; // [B, D·Hout] the rows the head reads for readout "last" or "final"
  readonly dRead: number; // [B, D·Hout]
  readonly stepSizes: number; // [T] rows per step with lengths (RowLengths.stored)
}

/** Slots of the sorted-row pass (lengths): states [L·D, B, ·] and caller-order y, dY. */
interface SortedPlan {
  readonly h0: number;
  readonly c0: number;
  readonly hN: number;
  readonly cN: number;
  readonly dh0: number;
  readonly dc0: number;
  readonly dhN: number;
  readonly dcN: number;
  readonly y: number; // [T, B, D·Hout] the last layer's y, caller order (time-major)
  readonly dY: number; // [T, B, D·Hout]
}

/** Workspace slots start on multiples of this many elements (SIMD-friendly). */
const ALIGN = 16;

/** The workspace plan of shape (T, B) for a region starting at element `base`. */
function planWorkspace(
  cfg: ModelConfig,
  shape: { T: number; B: number },
  params: ParamPlan,
  base: number,
): WorkspacePlan {
  const { T, B } = shape;
  const { inputSize: I, hiddenSize: H, numLayers: L, outputSize: O } = cfg;
  const D = numDirections(cfg);
  const DH = D * hiddenOut(cfg);
  const drop = cfg.dropout;
  const cell = cellOf(cfg);
  const gru = cfg.cell === "gru";
  let end = 0;
  const slot = (n: number): number => {
    const off = Math.ceil(end / ALIGN) * ALIGN;
    end = off + n;
    return base + off;
  };
  const stateH = L * D * B * hiddenOut(cfg);
  const stateC = gru ? 0 : L * D * B * H; // a GRU has no cell state: its c slots are empty
  const x = slot(T * B * I);
  const maskIn = slot(drop && drop.input > 0 ? T * B * I : 0);
  const h0 = slot(stateH);
  const c0 = slot(stateC);
  const hN = slot(stateH);
  const cN = slot(stateC);
  const ys: { y: number; dropped: number; mask: number }[] = [];
  const dirs: (LstmDirection | GruDirection)[][] = [];
  for (let l = 0; l < L; l++) {
    const y = slot(T * B * DH);
    const p = !drop ? 0 : l < L - 1 ? drop.betweenLayers : drop.output;
    ys.push({ y, dropped: slot(p > 0 ? T * B * DH : 0), mask: slot(p > 0 ? T * B * DH : 0) });
    dirs.push(params.dirs[l].map((p) => cell.planDirection(p, T * B, H, slot)));
  }
  const z = slot(T * B * O);
  const out = slot(T * B * O);
  const yOut = slot(T * B * DH);
  const dz = slot(T * B * O);
  const dHead = slot(drop && drop.output > 0 ? T * B * DH : 0);
  const dPre = slot(T * B * cell.gates * H);
  const dHg = slot(gru ? T * B * cell.gates * H : 0);
  const dh = slot(B * H);
  const dc = slot(gru ? 0 : B * H);
  const dRaw = slot(cfg.projSize ? B * H : 0);
  const zeros = slot(cfg.projSize ? B * H : 0);
  const stepsWork = slot(stepsWorkSize(H));
  const dYs = ys.map(() => slot(T * B * DH));
  const dx = slot(T * B * I);
  const dxOut = slot(T * B * I);
  const dh0 = slot(stateH);
  const dc0 = slot(stateC);
  const dhN = slot(stateH);
  const dcN = slot(stateC);
  const layers = ys.map((y, l) => ({ ...y, dY: dYs[l], dirs: dirs[l] }));
  const [sh0, sc0, shN, scN] = [slot(stateH), slot(stateC), slot(stateH), slot(stateC)];
  const [sdh0, sdc0, sdhN, sdcN] = [slot(stateH), slot(stateC), slot(stateH), slot(stateC)];
  const sorted = {
    ...{ h0: sh0, c0: sc0, hN: shN, cN: scN, dh0: sdh0, dc0: sdc0, dhN: sdhN, dcN: sdcN },
    ...{ y: slot(T * B * DH), dY: slot(T * B * DH) },
  };
  const hRead = slot(B * DH);
  const dRead = slot(B * DH);
  const stepSizes = slot(T);
  return {
    total: end,
    ...{ x, maskIn, h0, c0, hN, cN, layers, z, out, yOut, dz, dHead, dPre, dHg, dh, dc },
    ...{ dRaw, zeros, stepsWork, dx, dxOut, dh0, dc0, dhN, dcN, sorted, hRead, dRead },
    stepSizes,
  };
}

/**
 * Everything sized by (T, B): one flat region laid out by its plan. The region is its own array
 * (reference backend) or a slice of the backend's memory (WebAssembly), which may be replaced
 * when that memory grows, so the buffer is fetched at the start of every call.
 */
class Workspace {
  readonly plan: WorkspacePlan;
  private readonly getBuf: () => FloatArray;
  private readonly releaseFn: () => void = () => {};

  constructor(
    cfg: ModelConfig,
    readonly T: number,
    readonly B: number,
    params: ParamPlan,
    storage: { dtype: DType; memory: KernelMemory | null },
  ) {
    const total = planWorkspace(cfg, { T, B }, params, 0).total;
    if (total > MAX_ELEMENTS * 4)
      throw new ConfigError("seqLen×batch", `workspace of ${total} elements is too large`);
    const memory = storage.memory;
    if (memory) {
      const base = memory.alloc(total);
      this.plan = planWorkspace(cfg, { T, B }, params, base);
      this.getBuf = () => memory.view();
      this.releaseFn = () => memory.free?.(base, total);
    } else {
      this.plan = planWorkspace(cfg, { T, B }, params, 0);
      const own = allocFloat(storage.dtype, total);
      this.getBuf = () => own;
    }
  }

  /** Gives the region back to the backend's memory (the workspace is not used again). */
  release(): void {
    this.releaseFn();
  }

  /** The buffer holding this workspace (fetch once per call: growth may replace it). */
  get buf(): FloatArray {
    return this.getBuf();
  }

  /** A view of n elements at absolute offset `off` (valid until the memory grows). */
  view(off: number, n: number): FloatArray {
    return this.getBuf().subarray(off, off + n);
  }
}

/** Parameter offsets computed once per model: per layer and direction, and the head's. */
interface ParamPlan {
  readonly dirs: readonly (readonly DirectionParams[])[];
  readonly head: LinearParams;
  /** embedding.weight [V, E], or null with dense input. */
  readonly embedding: number | null;
}

function planParams(cfg: ModelConfig, layout: OffsetTable): ParamPlan {
  const D = numDirections(cfg);
  const dirs: DirectionParams[][] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    const row: DirectionParams[] = [];
    for (let d = 0; d < D; d++) {
      const s = layerSuffix(l, d);
      const at = (name: string): number => layout.get(`${cfg.cell}.${name}_${s}`).offset;
      row.push({
        reverse: d === 1,
        wIh: at("weight_ih"),
        wHh: at("weight_hh"),
        bIh: at("bias_ih"),
        bHh: at("bias_hh"),
        ...(cfg.projSize ? { wHr: at("weight_hr") } : {}),
      });
    }
    dirs.push(row);
  }
  const embedding = cfg.embedding ? layout.get("embedding.weight").offset : null;
  // A tied head reads embedding.weight: both uses accumulate into its one gradient.
  const headW = cfg.tiedHead ? embedding! : layout.get("head.weight").offset;
  return { dirs, head: { w: headW, b: layout.get("head.bias").offset }, embedding };
}

export class LstmModel {
  readonly config: ModelConfig;
  readonly dtype: DType;
  readonly kernels: Kernels;
  /** Offset table shared by params and grads (PyTorch names and order). */
  readonly layout: OffsetTable;
  /** Parameter offsets by layer and direction, and the head's (computed once). */
  private readonly paramPlan: ParamPlan;
  /**
   * Backend-owned memory (WebAssembly), or null when kernels take plain arrays. With it, params,
   * grads and workspaces all live in that memory, so kernels read the weights in place.
   */
  private readonly memory: KernelMemory | null = null;
  /** Element offsets of params and grads in their buffer (0 for plain arrays). */
  private readonly pOff: number = 0;
  private readonly gOff: number = 0;
  private ownParams: FloatArray | null = null;
  private ownGrads: FloatArray | null = null;
  /** Views of params and grads in `memory`, renewed when a growth replaces its buffer. */
  private viewBuf: FloatArray | null = null;
  private pView: FloatArray | null = null;
  private gView: FloatArray | null = null;
  private ws: Workspace | null = null;
  /** Recently used workspaces by shape (training, evaluation and sampling shapes alternate). */
  private readonly cache: Workspace[] = [];
  private last: Pass | null = null;

  constructor(config: ModelConfigInput, options: ModelOptions = {}) {
    this.config = makeConfig(config);
    this.dtype = options.dtype ?? "float32";
    if (this.dtype !== "float32" && this.dtype !== "float64")
      throw new ConfigError("dtype", `must be "float32" or "float64", got ${String(this.dtype)}`);
    this.kernels = chooseBackend(options.backend, this.dtype);
    this.layout = paramLayout(this.config);
    this.paramPlan = planParams(this.config, this.layout);
    const threads = options.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > 64)
      throw new ConfigError("threads", `must be an integer in [1, 64], got ${String(threads)}`);
    if (this.kernels.createMemory) {
      this.memory = this.kernels.createMemory(threads > 1 ? { threads } : undefined);
      this.pOff = this.memory.alloc(this.layout.total);
      this.gOff = this.memory.alloc(this.layout.total);
    } else {
      this.ownParams = this.layout.alloc(this.dtype);
      this.ownGrads = this.layout.alloc(this.dtype);
    }
  }

  /** Threads the kernels use for this model (1 unless `threads` was asked for and available). */
  get threads(): number {
    return this.memory?.threads ?? 1;
  }

  /**
   * Stops the model's worker threads, if any. The model stays usable, on one thread. Workers of a
   * model that is dropped without this are stopped when it is garbage-collected, and idle ones
   * never keep a Node process alive.
   */
  dispose(): void {
    this.memory?.dispose?.();
  }

  /**
   * All parameters, concatenated in `paramNames()` order (a live view). With the wasm backend
   * it views WebAssembly memory: a forward on a new (T, B) shape may grow that memory and
   * replace its buffer, so read `model.params` again after one rather than keeping an old view.
   */
  get params(): FloatArray {
    if (this.ownParams) return this.ownParams;
    this.refreshViews();
    return this.pView!;
  }

  /** ∂loss/∂params, same layout (a live view, see `params`); accumulates until zeroGrad(). */
  get grads(): FloatArray {
    if (this.ownGrads) return this.ownGrads;
    this.refreshViews();
    return this.gView!;
  }

  private refreshViews(): void {
    const buf = this.memory!.view();
    if (buf === this.viewBuf) return;
    const P = this.layout.total;
    this.viewBuf = buf;
    this.pView = buf.subarray(this.pOff, this.pOff + P);
    this.gView = buf.subarray(this.gOff, this.gOff + P);
  }

  /** The parameters and gradients as the kernels address them. */
  private kernelParams(): Block {
    return this.memory
      ? { buf: this.memory.view(), off: this.pOff }
      : { buf: this.ownParams!, off: 0 };
  }
  private kernelGrads(): Block {
    return this.memory
      ? { buf: this.memory.view(), off: this.gOff }
      : { buf: this.ownGrads!, off: 0 };
  }

  /** Elements of the cell state c0/cN for batch B: L·D·B·H for the LSTM, 0 for the GRU. */
  cellStateSize(batch: number): number {
    const c = this.config;
    return c.cell === "lstm" ? c.numLayers * numDirections(c) * batch * c.hiddenSize : 0;
  }

  /** Parameter names in PyTorch `named_parameters()` order. */
  paramNames(): string[] {
    return this.layout.list().map((s) => s.name);
  }

  /** The shape of the parameter tensor `name` (PyTorch name, e.g. `lstm.weight_hh_l0`). */
  paramShape(name: string): readonly number[] {
    this.checkName(name);
    return this.layout.get(name).shape;
  }

  /** A live view of parameter `name`. */
  param(name: string): FloatArray {
    this.checkName(name);
    return this.layout.view(this.params, name);
  }

  /** A live view of the gradient of parameter `name`. */
  grad(name: string): FloatArray {
    this.checkName(name);
    return this.layout.view(this.grads, name);
  }

  /** Copies `data` into parameter `name` after checking its shape and values. */
  setParam(name: string, data: ArrayLike<number>, shape?: readonly number[]): void {
    this.checkName(name);
    const slot = this.layout.get(name);
    if (shape && !sameShape(shape, slot.shape)) throw new ShapeError(name, slot.shape, shape);
    checkLength(name, data, slot.shape);
    checkFinite(name, data);
    this.params.set(data, slot.offset);
  }

  get numParams(): number {
    return this.layout.total;
  }

  /** Sets every gradient to zero (gradients accumulate across backward calls until then). */
  zeroGrad(): void {
    this.grads.fill(0);
  }

  /**
   * PyTorch's default initialisation: every LSTM/GRU tensor U(−1/√H, 1/√H); the head's weight
   * and bias U(−1/√(D·Hout), 1/√(D·Hout)), as nn.Linear draws them; an embedding N(0, 1) as
   * nn.Embedding (U(−1/√(D·Hout), 1/√(D·Hout)) when tied to the head), its padding row zero.
   */
  initDefault(rng: Rng): void {
    const cfg = this.config;
    const kLstm = 1 / Math.sqrt(cfg.hiddenSize);
    const kHead = 1 / Math.sqrt(numDirections(cfg) * hiddenOut(cfg));
    for (const s of this.layout.list()) {
      const p = this.params;
      if (s.name === "embedding.weight" && !cfg.tiedHead)
        for (let j = 0; j < s.size; j++) p[s.offset + j] = rng.normal();
      else {
        const k = s.name.startsWith("head.") || s.name === "embedding.weight" ? kHead : kLstm;
        for (let j = 0; j < s.size; j++) p[s.offset + j] = rng.range(-k, k);
      }
      const pad = cfg.embedding?.paddingIdx ?? null;
      if (s.name === "embedding.weight" && pad !== null)
        p.fill(0, s.offset + pad * cfg.inputSize, s.offset + (pad + 1) * cfg.inputSize);
    }
  }

  /**
   * Copies of what the last forward saved for one layer and direction, time-major:
   * gates [T, B, 4H] (post-activation i, f, g, o; for the GRU [T, B, 3H]: r, z, n), c (LSTM;
   * empty for the GRU) and h [T, B, H], indexed by the time of the consumed input. For
   * inspection (tests, reports); training never needs them.
   */
  activations(layer: number, direction = 0): { gates: FloatArray; c: FloatArray; h: FloatArray } {
    const ws = this.ws;
    if (!ws || !this.last) throw new LstmError("E_STATE", "activations() called before forward()");
    const { hiddenSize: H, numLayers: L } = this.config;
    const Hout = hiddenOut(this.config);
    const D = numDirections(this.config);
    if (!Number.isInteger(layer) || layer < 0 || layer >= L)
      throw new ConfigError("layer", `must be in [0, ${L}), got ${layer}`);
    if (direction !== 0 && !(direction === 1 && D === 2))
      throw new ConfigError("direction", `must be in [0, ${D}), got ${direction}`);
    const { T, B } = ws;
    const lp = ws.plan.layers[layer];
    const dir = lp.dirs[direction];
    const h = ws.view(lp.y, T * B * Hout).slice(); // same dtype; overwritten below
    const y = ws.view(lp.y, T * B * D * Hout);
    for (let r = 0; r < T * B; r++)
      for (let j = 0; j < Hout; j++) h[r * Hout + j] = y[r * D * Hout + direction * Hout + j];
    const gates = ws.view(dir.gates, T * B * cellOf(this.config).gates * H).slice();
    const c = "c" in dir ? ws.view(dir.c, T * B * H).slice() : h.subarray(0, 0);
    return { gates, c, h };
  }

  /** Throws NonFiniteError naming the first parameter tensor holding NaN or ±Infinity. */
  checkParams(): void {
    const p = this.params;
    for (const s of this.layout.list())
      checkFinite(s.name, p.subarray(s.offset, s.offset + s.size));
  }

  private checkName(name: string): void {
    if (!this.layout.has(name))
      throw new ConfigError(
        "param",
        `no parameter "${name}"; have ${this.paramNames().join(", ")}`,
      );
  }

  private workspace(T: number, B: number): Workspace {
    let ws = this.cache.find((w) => w.T === T && w.B === B);
    if (!ws) {
      const storage = { dtype: this.dtype, memory: this.memory };
      ws = new Workspace(this.config, T, B, this.paramPlan, storage);
      this.cache.unshift(ws);
      if (this.cache.length > 4) this.cache.pop()!.release();
    }
    this.ws = ws;
    return ws;
  }

  /**
   * Runs the stack and the head; x is [T, B, I] (or [B, T, I] batch-first), or token ids
   * [T, B] (or [B, T]) with embedding input. `mode: "train"` applies dropout (ForwardOptions).
   */
  forward(x: ArrayLike<number>, opts: ForwardOptions): ForwardResult {
    const cfg = this.config;
    const { inputSize: I, hiddenSize: H, numLayers: L, outputSize: O } = cfg;
    const Hout = hiddenOut(cfg);
    const D = numDirections(cfg);
    const DH = D * Hout;
    const T = checkDim("seqLen (T)", opts.seqLen);
    const B = checkDim("batch (B)", opts.batch);
    const batchFirst = opts.batchFirst ?? false;
    const readout = opts.readout ?? "all";
    if (readout !== "all" && readout !== "last" && readout !== "final")
      throw new ConfigError("readout", `must be "all", "last" or "final", got ${String(readout)}`);
    let ids: Int32Array | null = null;
    let oneHotIds: Int32Array | null = null;
    if (cfg.embedding) {
      checkLength("x", x, batchFirst ? [B, T] : [T, B], batchFirst ? "[B, T]" : "[T, B]");
      ids = tokenRows(x, { T, B, batchFirst }, cfg.embedding.numEmbeddings);
    } else if (opts.oneHot) {
      checkLength("x", x, batchFirst ? [B, T] : [T, B], batchFirst ? "[B, T]" : "[T, B]");
      oneHotIds = tokenRows(x, { T, B, batchFirst }, I);
    } else {
      const shape = batchFirst ? [B, T, I] : [T, B, I];
      checkLength("x", x, shape, batchFirst ? "[B, T, I]" : "[T, B, I]");
      checkFinite("x", x);
    }
    let sort = opts.lengths === undefined ? null : sortByLength(opts.lengths, T, B);
    if (opts.checkParams ?? true) this.checkParams();
    const ws = this.workspace(T, B); // may grow backend memory: fetch buffers after it
    const plan = ws.plan;
    const buf = ws.buf;
    const params = this.kernelParams();
    const k = this.kernels;
    const gru = cfg.cell === "gru";
    const stateH = L * D * B * Hout;
    const stateC = gru ? 0 : L * D * B * H; // a GRU has no cell state
    if (sort) {
      // The rows per step also in the workspace, for kernels that read only their memory.
      buf.set(sort.rows.batchSizes, plan.stepSizes);
      const stored = { buf, off: plan.stepSizes };
      sort = { ...sort, rows: { ...sort.rows, stored } };
      // Token rows (time-major [T·B]) in the sorted order too.
      if (ids) ids = sortIds(ids, T, sort.perm);
      if (oneHotIds) oneHotIds = sortIds(oneHotIds, T, sort.perm);
    }
    // With lengths the layers see the rows sorted (their own state slots); else the caller's.
    const st = sort ? plan.sorted : plan;
    const orderOf = (W: number): RowOrder | null =>
      sort ? { T: L * D, B, W, batchFirst: false, perm: sort.perm } : null;

    // Inputs into the workspace (time-major, model dtype, sorted rows with lengths).
    if (ids) {
      const table = { buf: params.buf, off: params.off + this.paramPlan.embedding! };
      const V = cfg.embedding!.numEmbeddings;
      embeddingForward({ buf, off: plan.x }, table, ids, { R: T * B, V, E: I });
    } else if (oneHotIds) {
      // x stays unwritten (the first layer gathers W_ih columns), unless dropped below.
    } else if (sort) sortRows(buf, plan.x, x, { T, B, W: I, batchFirst, perm: sort.perm });
    else if (batchFirst) transposeInto(buf, plan.x, x, { A: B, B: T, W: I });
    else buf.set(x, plan.x);
    // A GRU's cell state is empty: c0 may be absent or of length 0 (the cN it returned).
    if (gru && opts.c0 !== undefined && opts.c0.length > 0)
      throw new ConfigError("c0", "a GRU has no cell state; pass h0 only");
    for (const [name, v, o, W] of [
      ["h0", opts.h0, st.h0, Hout],
      ["c0", opts.c0, st.c0, H],
    ] as const) {
      if (name === "c0" && gru) continue;
      const n = L * D * B * W;
      if (v === undefined) buf.fill(0, o, o + n);
      else {
        checkLength(name, v, [L * D, B, W], W === H ? "[L·D, B, H]" : "[L·D, B, P]");
        checkFinite(name, v);
        const order = orderOf(W);
        if (order) sortRows(buf, o, v, order);
        else buf.set(v, o);
      }
    }
    const drop = prepareDropout(buf, plan, { cfg, T, B, batchFirst, opts });
    // Readout "final" drops the gathered final states [B, D·Hout] (hRead), not the last y.
    const dropsY = (l: number): boolean => drop.after[l] && (l < L - 1 || readout !== "final");
    if (sort && dropsY(L - 1))
      throw new ConfigError(
        "lengths",
        `variable lengths with output dropout are not supported yet for readout "${readout}"`,
      );
    if (sort) {
      // The layers run on sorted rows: so do the masks of the input and between the layers.
      const perm = sort.perm;
      const sortMask = (off: number, W: number): void =>
        sortRows(buf, off, buf.slice(off, off + T * B * W), { T, B, W, batchFirst: false, perm });
      if (drop.input) sortMask(plan.maskIn, I);
      for (let l = 0; l < L - 1; l++) if (drop.after[l]) sortMask(plan.layers[l].mask, DH);
    }
    if (oneHotIds && drop.input) {
      // Dropped one-hot rows are no longer one-hot: write them out and take the product.
      buf.fill(0, plan.x, plan.x + T * B * I);
      for (let r = 0; r < T * B; r++) buf[plan.x + r * I + oneHotIds[r]] = 1;
      oneHotIds = null;
    }
    if (drop.input) scaleByMask({ buf, off: plan.x }, { buf, off: plan.maskIn }, T * B * I);

    for (let l = 0; l < L; l++) {
      const lp = plan.layers[l];
      const dims = { T, B, I: l === 0 ? I : DH, H, P: cfg.projSize ?? 0, rows: sort?.rows };
      const x = layerInput(buf, plan, { l, I, DH, drop });
      // Padded positions of y stay zero: the steps write valid positions only.
      if (sort) buf.fill(0, lp.y, lp.y + T * B * DH);
      for (let d = 0; d < D; d++) {
        const hSlab = (l * D + d) * B * Hout; // this layer-direction's slice of [L·D, B, Hout]
        const cSlab = (l * D + d) * B * H;
        // One literal for both cells (a GRU has no cell state and ignores cN, c0): a spread to
        // add them would be a generic copy on every call, which one-step inference feels.
        const io: LstmForwardIO = {
          y: { buf, off: lp.y + d * Hout, ld: DH },
          hN: { buf, off: st.hN + hSlab },
          act: buf,
          work: { buf, off: plan.stepsWork },
          x,
          h0: { buf, off: st.h0 + hSlab },
          params,
          ids: l === 0 ? oneHotIds : null,
          cN: { buf, off: st.cN + cSlab },
          c0: { buf, off: st.c0 + cSlab },
        };
        if (gru) gruCell.forward(k, io, dims, lp.dirs[d] as GruDirection);
        else lstmCell.forward(k, io, dims, lp.dirs[d] as LstmDirection);
      }
      // Dropout on the layer's output, into its own copy (backward still needs y).
      if (dropsY(l))
        maskInto({ buf, off: lp.dropped }, { buf, off: lp.y }, { buf, off: lp.mask }, T * B * DH);
    }

    // Back to the caller's row order: the last layer's y and the final states.
    let yLast = plan.layers[L - 1].y;
    const hOrder = orderOf(Hout);
    const cOrder = orderOf(H);
    if (sort && hOrder && cOrder) {
      const order = { T, B, W: DH, batchFirst: false, perm: sort.perm };
      unsortRows(buf, plan.sorted.y, buf.subarray(yLast), order);
      yLast = plan.sorted.y;
      unsortRows(buf, plan.hN, buf.subarray(st.hN), hOrder);
      if (!gru) unsortRows(buf, plan.cN, buf.subarray(st.cN), cOrder);
    }

    // Head on every step ([T·B] rows), or on one [D·Hout] row per sequence ([B] rows): the last
    // step (each row's own with lengths) or the last layer's final states.
    const yHead = dropsY(L - 1) ? plan.layers[L - 1].dropped : yLast;
    const R = readout === "all" ? T * B : B;
    let hRows: Strided = { buf, off: yHead, ld: DH };
    if (readout === "last" && !sort) hRows = { buf, off: yHead + (T - 1) * B * DH, ld: DH };
    else if (readout !== "all") {
      const rows = readRows({ readout, T, B, H: Hout, D, L }, sort);
      for (let b = 0; b < B; b++)
        for (let d = 0; d < D; d++) {
          const src =
            readout === "last" ? yLast + rows[b] + d * Hout : plan.hN + rows[b] + d * B * Hout;
          buf.copyWithin(plan.hRead + b * DH + d * Hout, src, src + Hout);
        }
      // Readout "final": output dropout on the final-state vector [B, D·Hout].
      const outMask = { buf, off: plan.layers[L - 1].mask };
      if (drop.after[L - 1]) scaleByMask({ buf, off: plan.hRead }, outMask, B * DH);
      hRows = { buf, off: plan.hRead, ld: DH };
    }
    const head = { z: { buf, off: plan.z }, h: hRows, params };
    linearForward(k, head, this.paramPlan.head, { R, N: DH, O });

    this.last = { T, B, batchFirst, readout, ids, oneHotIds, drop, sort };
    let y = ws.view(yLast, T * B * DH);
    let output = ws.view(plan.z, R * O);
    // Finite inputs and weights give a finite output unless the head overflows float32;
    // with checkParams off, this is also where a bad weight shows up (and is then named).
    if (!allFinite(output)) {
      this.checkParams();
      const i = output.findIndex((v) => !Number.isFinite(v));
      throw new NonFiniteError("output", i, output[i], "the head output overflowed");
    }
    if (batchFirst) {
      transposeInto(buf, plan.yOut, y, { A: T, B, W: DH });
      y = ws.view(plan.yOut, T * B * DH);
      if (readout === "all") {
        transposeInto(buf, plan.out, output, { A: T, B, W: O });
        output = ws.view(plan.out, T * B * O);
      }
    }
    return { y, hN: ws.view(plan.hN, stateH), cN: ws.view(plan.cN, stateC), output };
  }

  /**
   * Backpropagates ∂loss/∂output (the layout forward returned) through the head and every
   * layer and direction over the whole sequence, with the forward's dropout masks. Parameter
   * gradients accumulate in `grads` (an embedding's only in the rows the batch used).
   */
  backward(dOutput: ArrayLike<number>, opts: BackwardOptions = {}): BackwardResult {
    const pass = this.last;
    const ws = this.ws;
    if (!pass || !ws) throw new LstmError("E_STATE", "backward() called before forward()");
    const cfg = this.config;
    const { inputSize: I, hiddenSize: H, numLayers: L, outputSize: O } = cfg;
    const Hout = hiddenOut(cfg);
    const D = numDirections(cfg);
    const DH = D * Hout;
    const { T, B, batchFirst, readout, ids, oneHotIds, drop, sort } = pass;
    const inputGrad = (opts.inputGrad ?? true) && oneHotIds === null;
    const needDx = inputGrad || ids !== null; // an embedding's gradient comes from dx
    const plan = ws.plan;
    const buf = ws.buf;
    const k = this.kernels;
    const R = readout === "all" ? T * B : B;
    const gru = cfg.cell === "gru";
    const stateH = L * D * B * Hout;
    const stateC = gru ? 0 : L * D * B * H; // a GRU has no cell state
    // The parameters forward used (the backend copy made then) and where gradients accumulate.
    const params = this.kernelParams();
    const grads = this.kernelGrads();

    const st = sort ? plan.sorted : plan;
    const orderOf = (W: number): RowOrder | null =>
      sort ? { T: L * D, B, W, batchFirst: false, perm: sort.perm } : null;
    const outShape = readout !== "all" ? [B, O] : batchFirst ? [B, T, O] : [T, B, O];
    checkLength("dOutput", dOutput, outShape);
    checkFinite("dOutput", dOutput);
    if (batchFirst && readout === "all") transposeInto(buf, plan.dz, dOutput, { A: B, B: T, W: O });
    else buf.set(dOutput, plan.dz);

    // dY of the last layer (caller order): the head's contribution plus any direct gradient on y.
    for (const lp of plan.layers) buf.fill(0, lp.dY, lp.dY + T * B * DH);
    const last = plan.layers[L - 1];
    const dYLast = sort ? plan.sorted.dY : last.dY;
    const yLast = sort ? plan.sorted.y : last.y;
    if (sort) buf.fill(0, dYLast, dYLast + T * B * DH);
    if (opts.dY !== undefined) {
      checkLength("dY", opts.dY, batchFirst ? [B, T, DH] : [T, B, DH]);
      checkFinite("dY", opts.dY);
      if (batchFirst) transposeInto(buf, dYLast, opts.dY, { A: B, B: T, W: DH });
      else buf.set(opts.dY, dYLast);
    }
    // With output dropout the head's gradient lands in dHead, then reaches y through the mask
    // (readout "final": dRead, through the mask of the final-state vector).
    const outDrop = drop.after[L - 1] && readout !== "final";
    if (outDrop) buf.fill(0, plan.dHead, plan.dHead + T * B * DH);
    if (gru && opts.dCN !== undefined && opts.dCN.length > 0)
      throw new ConfigError("dCN", "a GRU has no cell state; pass dHN only");
    const hasDhN = opts.dHN !== undefined || readout === "final";
    if (hasDhN) buf.fill(0, plan.dhN, plan.dhN + stateH);
    for (const [name, v, o, W] of [
      ["dhN", opts.dHN, plan.dhN, Hout],
      ["dcN", gru ? undefined : opts.dCN, plan.dcN, H],
    ] as const) {
      if (v === undefined) continue;
      checkLength(name, v, [L * D, B, W], W === H ? "[L·D, B, H]" : "[L·D, B, P]");
      checkFinite(name, v);
      buf.set(v, o);
    }
    // The head read every step, the last index, or a gathered row per sequence (hRead).
    const lastRow = readout === "last" && !sort;
    const rowOff = lastRow ? (T - 1) * B * DH : 0;
    const gathered = readout !== "all" && !lastRow;
    if (gathered) buf.fill(0, plan.dRead, plan.dRead + B * DH);
    const head = {
      grads,
      dh: { buf, off: gathered ? plan.dRead : (outDrop ? plan.dHead : dYLast) + rowOff, ld: DH },
      dz: { buf, off: plan.dz },
      h: { buf, off: gathered ? plan.hRead : (outDrop ? last.dropped : yLast) + rowOff, ld: DH },
      params,
    };
    linearBackward(k, head, this.paramPlan.head, { R, N: DH, O });
    if (readout === "final" && drop.after[L - 1])
      scaleByMask({ buf, off: plan.dRead }, { buf, off: last.mask }, B * DH);
    if (gathered) {
      // Inverts the gather of forward: each row's read [D·Hout] back to y or to h_n.
      const rows = readRows({ readout, T, B, H: Hout, D, L }, sort);
      for (let b = 0; b < B; b++)
        for (let d = 0; d < D; d++) {
          const base =
            readout === "last" ? dYLast + rows[b] + d * Hout : plan.dhN + rows[b] + d * B * Hout;
          const src = plan.dRead + b * DH + d * Hout;
          for (let j = 0; j < Hout; j++) buf[base + j] += buf[src + j];
        }
    }
    if (outDrop)
      addMasked(
        { buf, off: dYLast },
        { buf, off: plan.dHead },
        { buf, off: last.mask },
        T * B * DH,
      );

    // Into the layers' (sorted) row order.
    const hOrder = orderOf(Hout);
    const cOrder = orderOf(H);
    if (sort && hOrder && cOrder) {
      const order = { T, B, W: DH, batchFirst: false, perm: sort.perm };
      sortRows(buf, last.dY, buf.subarray(dYLast), order);
      if (hasDhN) sortRows(buf, st.dhN, buf.subarray(plan.dhN), hOrder);
      if (opts.dCN !== undefined && !gru) sortRows(buf, st.dcN, buf.subarray(plan.dcN), cOrder);
    }
    if (needDx) buf.fill(0, plan.dx, plan.dx + T * B * I);
    buf.fill(0, st.dh0, st.dh0 + stateH);
    buf.fill(0, st.dc0, st.dc0 + stateC);
    const scratch = {
      buf,
      dPre: plan.dPre,
      dh: plan.dh,
      dc: plan.dc,
      work: plan.stepsWork,
      dRaw: plan.dRaw,
      zeros: plan.zeros,
    };
    const gruScratch = { buf, dXg: plan.dPre, dHg: plan.dHg, dh: plan.dh, work: plan.stepsWork };

    for (let l = L - 1; l >= 0; l--) {
      const lp = plan.layers[l];
      const dims = { T, B, I: l === 0 ? I : DH, H, P: cfg.projSize ?? 0, rows: sort?.rows };
      const x = layerInput(buf, plan, { l, I, DH, drop });
      const dx: Strided | null =
        l > 0
          ? { buf, off: plan.layers[l - 1].dY, ld: DH }
          : needDx
            ? { buf, off: plan.dx, ld: I }
            : null;
      for (let d = 0; d < D; d++) {
        const hSlab = (l * D + d) * B * Hout;
        const cSlab = (l * D + d) * B * H;
        const atH = (off: number): Block => ({ buf, off: off + hSlab });
        const atC = (off: number): Block => ({ buf, off: off + cSlab });
        // What every cell's backward takes, with the cell's scratch (a literal per cell, not a
        // spread: see the forward).
        const withScratch = <S>(cellScratch: S) => ({
          scratch: cellScratch,
          grads,
          dx,
          dh0: atH(st.dh0),
          dy: { buf, off: lp.dY + d * Hout, ld: DH },
          dhN: hasDhN ? atH(st.dhN) : null,
          act: buf,
          x,
          y: { buf, off: lp.y + d * Hout, ld: DH },
          h0: atH(st.h0),
          params,
          ids: l === 0 ? oneHotIds : null,
        });
        if (gru) {
          const gruIO: GruBackwardIO = withScratch(gruScratch);
          gruCell.backward(k, gruIO, dims, lp.dirs[d] as GruDirection);
          continue;
        }
        const lstmIO: LstmBackwardIO = Object.assign(withScratch(scratch), {
          dc0: atC(st.dc0),
          dcN: opts.dCN !== undefined ? atC(st.dcN) : null,
          c0: atC(st.c0),
        });
        lstmCell.backward(k, lstmIO, dims, lp.dirs[d] as LstmDirection);
      }
      // Layer l read the previous layer's dropped output: its gradient goes through the mask.
      const prev = plan.layers[l - 1];
      if (l > 0 && drop.after[l - 1])
        scaleByMask({ buf, off: prev.dY }, { buf, off: prev.mask }, T * B * DH);
    }
    if (needDx && drop.input)
      scaleByMask({ buf, off: plan.dx }, { buf, off: plan.maskIn }, T * B * I);
    if (ids) {
      const table = { buf: grads.buf, off: grads.off + this.paramPlan.embedding! };
      const dims = { R: T * B, V: cfg.embedding!.numEmbeddings, E: I };
      const lookup = { dims, paddingIdx: cfg.embedding!.paddingIdx };
      embeddingBackward(table, { buf, off: plan.dx }, ids, lookup);
    }

    let dx = ws.view(plan.dx, T * B * I);
    if (!inputGrad || ids) dx = dx.subarray(0, 0);
    else if (sort) {
      unsortRows(buf, plan.dxOut, dx, { T, B, W: I, batchFirst, perm: sort.perm });
      dx = ws.view(plan.dxOut, T * B * I);
    } else if (batchFirst) {
      transposeInto(buf, plan.dxOut, dx, { A: T, B, W: I });
      dx = ws.view(plan.dxOut, T * B * I);
    }
    if (sort && hOrder && cOrder) {
      unsortRows(buf, plan.dh0, buf.subarray(st.dh0), hOrder);
      if (!gru) unsortRows(buf, plan.dc0, buf.subarray(st.dc0), cOrder);
    }
    return { dx, dh0: ws.view(plan.dh0, stateH), dc0: ws.view(plan.dc0, stateC) };
  }
}

/**
 * Where each caller row's head input starts (element offset relative to the buffer read):
 * readout "last", in y [T, B, D·H] at t = len_b − 1; "final", in h_n [L·D, B, H] at the last
 * layer's forward slab (the reverse one follows at + B·H).
 */
function readRows(
  p: { readout: Readout; T: number; B: number; H: number; D: number; L: number },
  sort: RowSort | null,
): Int32Array {
  const { T, B, H, D, L } = p;
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    if (p.readout === "last") out[b] = ((sort ? sort.lengths[b] : T) - 1) * B * D * H + b * D * H;
    else out[b] = (L - 1) * D * B * H + b * H;
  }
  return out;
}

/**
 * Checks lengths [B] (integers in [1, T]) and sorts the rows longest first (stable), or null
 * when every row has all T steps (the plain pass).
 */
function sortByLength(lengths: ArrayLike<number>, T: number, B: number): RowSort | null {
  checkLength("lengths", lengths, [B], "[B]");
  const lens = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (!Number.isInteger(n) || n < 1 || n > T)
      throw new ConfigError(`lengths[${b}]`, `must be an integer in [1, ${T}], got ${n}`);
    lens[b] = n;
  }
  if (lens.every((n) => n === T)) return null;
  const perm = Int32Array.from({ length: B }, (_, b) => b).sort(
    (a, b) => lens[b] - lens[a] || a - b,
  );
  const sorted = perm.map((b) => lens[b]);
  return { perm, lengths: lens, rows: rowLengths(sorted, T) };
}

/** A [T, B, W] tensor's rows ([B, T, W] when batchFirst): sorted row i is caller row perm[i]. */
interface RowOrder {
  readonly T: number;
  readonly B: number;
  readonly W: number;
  readonly batchFirst: boolean;
  readonly perm: Int32Array;
}

/** dst[off …] (time-major, sorted rows) ← src in the caller's layout and row order. */
function sortRows(dst: FloatArray, off: number, src: ArrayLike<number>, o: RowOrder): void {
  const { T, B, W, batchFirst, perm } = o;
  for (let t = 0; t < T; t++)
    for (let i = 0; i < B; i++) {
      const b = perm[i];
      const s = (batchFirst ? b * T + t : t * B + b) * W;
      const d = off + (t * B + i) * W;
      for (let w = 0; w < W; w++) dst[d + w] = src[s + w];
    }
}

/** dst[off …] in the caller's layout and row order ← src (time-major, sorted rows). */
function unsortRows(dst: FloatArray, off: number, src: ArrayLike<number>, o: RowOrder): void {
  const { T, B, W, batchFirst, perm } = o;
  for (let t = 0; t < T; t++)
    for (let i = 0; i < B; i++) {
      const b = perm[i];
      const d = off + (batchFirst ? b * T + t : t * B + b) * W;
      const s = (t * B + i) * W;
      for (let w = 0; w < W; w++) dst[d + w] = src[s + w];
    }
}

/** Time-major token ids [T·B] in the sorted row order: sorted row i is caller row perm[i]. */
function sortIds(ids: Int32Array, T: number, perm: Int32Array): Int32Array {
  const B = perm.length;
  const out = new Int32Array(ids.length);
  for (let t = 0; t < T; t++) for (let i = 0; i < B; i++) out[t * B + i] = ids[t * B + perm[i]];
  return out;
}

/**
 * Which dropout sites this pass applies, with their factors written into the workspace: none in
 * eval mode; in train mode each site whose probability is above 0, from the given masks (a
 * missing one drops nothing) or drawn from the rng in order input, between_l0…, output.
 */
function prepareDropout(
  buf: FloatArray,
  plan: WorkspacePlan,
  pass: { cfg: ModelConfig; T: number; B: number; batchFirst: boolean; opts: ForwardOptions },
): DropPass {
  const { cfg, T, B, batchFirst, opts } = pass;
  // Readout "final" drops the final-state vector [B, D·Hout] (one "step"), not y.
  const finalOut = opts.readout === "final";
  const L = cfg.numLayers;
  const mode = opts.mode ?? "eval";
  if (mode !== "train" && mode !== "eval")
    throw new ConfigError("mode", `must be "train" or "eval", got ${String(mode)}`);
  const p = cfg.dropout;
  if (mode === "eval" || !p) return { input: false, after: new Array<boolean>(L).fill(false) };
  const DH = numDirections(cfg) * hiddenOut(cfg);
  const sites = [{ key: "input", p: p.input, W: cfg.inputSize, off: plan.maskIn, T }];
  for (let l = 0; l < L; l++)
    sites.push({
      key: l < L - 1 ? `between_l${l}` : "output",
      p: l < L - 1 ? p.betweenLayers : p.output,
      W: DH,
      off: plan.layers[l].mask,
      T: l === L - 1 && finalOut ? 1 : T,
    });
  const given = opts.dropoutMasks;
  if (given) {
    const known = new Set(sites.filter((s) => s.p > 0).map((s) => s.key));
    for (const key of Object.keys(given))
      if (!known.has(key))
        throw new ConfigError(
          `dropoutMasks.${key}`,
          `no dropout there (masks for: ${[...known].join(", ") || "none"})`,
        );
  } else if (!opts.rng)
    throw new ConfigError("rng", "train mode with dropout needs an rng (or dropoutMasks)");
  const on = sites.map((s) => {
    if (s.p === 0) return false;
    const out = { buf, off: s.off };
    if (!given) drawMask(out, s.T * B * s.W, s.p, opts.rng!);
    else if (given[s.key] === undefined) return false;
    else {
      const shape = { T: s.T, B, W: s.W, batchFirst: batchFirst && s.T > 1, p: s.p };
      givenMask(out, given[s.key], shape, `dropoutMasks.${s.key}`);
    }
    return true;
  });
  return { input: on[0], after: on.slice(1) };
}

/**
 * Layer l's input rows: the time-major x for the first layer, else the previous layer's y (its
 * dropped copy when the pass dropped it).
 */
function layerInput(
  buf: FloatArray,
  plan: WorkspacePlan,
  at: { l: number; I: number; DH: number; drop: DropPass },
): Strided {
  const { l, I, DH, drop } = at;
  if (l === 0) return { buf, off: plan.x, ld: I };
  const prev = plan.layers[l - 1];
  return { buf, off: drop.after[l - 1] ? prev.dropped : prev.y, ld: DH };
}

/** The named backend, or the default one, or the reference when the default lacks this dtype. */
function chooseBackend(name: string | undefined, dtype: DType): Kernels {
  const k = getBackend(name);
  if (k.dtypes.includes(dtype)) return k;
  if (name !== undefined)
    throw new ConfigError("backend", `"${name}" computes in ${k.dtypes.join(", ")}, not ${dtype}`);
  return getBackend("js");
}

function allFinite(a: FloatArray): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return false;
  return true;
}

function checkDim(field: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_ELEMENTS)
    throw new ConfigError(field, `must be a positive integer, got ${String(v)}`);
  return v;
}

/** dst[off + (j·A + i)·W + w] = src[(i·Bn + j)·W + w]: swaps the first two axes of [A, Bn, W]. */
function transposeInto(
  dst: FloatArray,
  off: number,
  src: ArrayLike<number>,
  shape: { A: number; B: number; W: number },
): void {
  const { A, B: Bn, W } = shape;
  for (let i = 0; i < A; i++)
    for (let j = 0; j < Bn; j++) {
      const s = (i * Bn + j) * W;
      const d = off + (j * A + i) * W;
      for (let w = 0; w < W; w++) dst[d + w] = src[s + w];
    }
}

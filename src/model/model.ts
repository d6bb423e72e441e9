/**
 * An LSTM or GRU stack (L layers, D directions) with a linear head: parameters, gradients, and a
 * workspace sized once per (T, B) shape. Forward keeps what backward needs; backward is exact
 * BPTT over the whole sequence and accumulates (+=) into `grads` until `zeroGrad()`.
 *
 * Letters: B batch, T time, I input, H hidden, L layers, D directions, O head outputs.
 */
import { getBackend, type Kernels } from "../backend/index.js";
import type { Block, KernelMemory, Strided } from "../backend/kernels.js";
import { stepsWorkSize } from "../backend/steps.js";
import type { DirectionParams } from "../layers/cell.js";
import { linearBackward, linearForward, type LinearParams } from "../layers/linear.js";
import {
  gruCell,
  type GruBackwardIO,
  type GruDirection,
  type GruForwardIO,
} from "../layers/gru.js";
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

/** Which time steps the head reads: every step (sequence-to-sequence) or the last index only. */
export type Readout = "all" | "last";

/** Shape and initial state of one forward pass. */
export interface ForwardOptions {
  /** T: time steps. */
  seqLen: number;
  /** B: sequences in the batch. */
  batch: number;
  /** x, y and the head output are [B, T, ·] instead of [T, B, ·]. h0/c0 are always [L·D, B, H]. */
  batchFirst?: boolean;
  /** Initial hidden state [L·D, B, H]; zeros when omitted. */
  h0?: ArrayLike<number>;
  /** Initial cell state [L·D, B, H]; zeros when omitted (LSTM only: a GRU has none). */
  c0?: ArrayLike<number>;
  /** Default "all". */
  readout?: Readout;
  /**
   * Check every parameter for NaN/±Infinity first (default true). That is O(P) per call: a
   * streaming caller running one step at a time may check once and then pass false.
   */
  checkParams?: boolean;
}

/** Views into the workspace: valid until the next forward or backward; copy to keep. */
export interface ForwardResult {
  /** Last layer's hidden states, [T, B, D·H] (or [B, T, D·H] batch-first). */
  readonly y: FloatArray;
  /** Final states of every layer and direction, [L·D, B, H]. */
  readonly hN: FloatArray;
  /** [L·D, B, H] for the LSTM; empty (length 0) for the GRU, which has no cell state. */
  readonly cN: FloatArray;
  /** Head output: [T, B, O] (or [B, T, O]) for readout "all", [B, O] for "last". */
  readonly output: FloatArray;
}

/** Gradients flowing into `backward` besides the head output's. */
export interface BackwardOptions {
  /** Extra gradient on y, same layout as ForwardResult.y. */
  dY?: ArrayLike<number>;
  /** Gradient on the final states h_n, c_n [L·D, B, H] (e.g. from a later window). */
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
  /** ∂loss/∂x, the layout of x; empty (length 0) when backward ran with inputGrad: false. */
  readonly dx: FloatArray;
  /** ∂loss/∂h0, ∂loss/∂c0 [L·D, B, H] (dc0 empty for the GRU). */
  readonly dh0: FloatArray;
  readonly dc0: FloatArray;
}

interface Pass {
  T: number;
  B: number;
  batchFirst: boolean;
  readout: Readout;
}

/** One layer's slots in a workspace (absolute element offsets). */
interface LayerPlan {
  /** [T, B, D·H] the layer's output, forward half then reverse half. */
  readonly y: number;
  /** [T, B, D·H] ∂loss/∂y. */
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
  readonly x: number; // [T, B, I] time-major copy of the input
  readonly h0: number; // [L·D, B, H], likewise c0, hN, cN
  readonly c0: number;
  readonly hN: number;
  readonly cN: number;
  readonly layers: readonly LayerPlan[];
  readonly z: number; // [T·B, O] head output, time-major rows
  readonly out: number; // [T·B, O] head output in the caller's layout
  readonly yOut: number; // [T, B, D·H] y in the caller's layout (batch-first only)
  readonly dz: number; // [T·B, O]
  /** Backward's scratch: dPre [T, B, gates·H], dh and dc [B, H], the steps kernels' work. */
  readonly dPre: number;
  /** GRU only: ∂loss/∂hg [T, B, 3H] (dPre holds ∂loss/∂xg); empty for the LSTM. */
  readonly dHg: number;
  readonly dh: number;
  readonly dc: number;
  readonly stepsWork: number; // the steps kernels' workspace (forward and backward)
  readonly dx: number; // [T, B, I]
  readonly dxOut: number;
  readonly dh0: number; // [L·D, B, H], likewise dc0, dhN, dcN
  readonly dc0: number;
  readonly dhN: number;
  readonly dcN: number;
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
  const cell = cellOf(cfg);
  const gru = cfg.cell === "gru";
  let end = 0;
  const slot = (n: number): number => {
    const off = Math.ceil(end / ALIGN) * ALIGN;
    end = off + n;
    return base + off;
  };
  const state = L * D * B * H;
  const cState = gru ? 0 : state; // a GRU has no cell state: its c slots are empty
  const x = slot(T * B * I);
  const h0 = slot(state);
  const c0 = slot(cState);
  const hN = slot(state);
  const cN = slot(cState);
  const ys: number[] = [];
  const dirs: (LstmDirection | GruDirection)[][] = [];
  for (let l = 0; l < L; l++) {
    ys.push(slot(T * B * D * H));
    dirs.push(params.dirs[l].map((p) => cell.planDirection(p, T * B, H, slot)));
  }
  const z = slot(T * B * O);
  const out = slot(T * B * O);
  const yOut = slot(T * B * D * H);
  const dz = slot(T * B * O);
  const dPre = slot(T * B * cell.gates * H);
  const dHg = slot(gru ? T * B * cell.gates * H : 0);
  const dh = slot(B * H);
  const dc = slot(gru ? 0 : B * H);
  const stepsWork = slot(stepsWorkSize(H));
  const dYs = ys.map(() => slot(T * B * D * H));
  const dx = slot(T * B * I);
  const dxOut = slot(T * B * I);
  const dh0 = slot(state);
  const dc0 = slot(cState);
  const dhN = slot(state);
  const dcN = slot(cState);
  const layers = ys.map((y, l) => ({ y, dY: dYs[l], dirs: dirs[l] }));
  return {
    total: end,
    ...{ x, h0, c0, hN, cN, layers, z, out, yOut, dz, dPre, dHg, dh, dc, stepsWork },
    ...{ dx, dxOut, dh0, dc0, dhN, dcN },
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
      });
    }
    dirs.push(row);
  }
  return {
    dirs,
    head: { w: layout.get("head.weight").offset, b: layout.get("head.bias").offset },
  };
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
   * PyTorch's default initialisation: every LSTM/GRU tensor U(−1/√H, 1/√H); the head's weight and
   * bias U(−1/√(D·H), 1/√(D·H)), as nn.Linear draws them.
   */
  initDefault(rng: Rng): void {
    const kLstm = 1 / Math.sqrt(this.config.hiddenSize);
    const kHead = 1 / Math.sqrt(numDirections(this.config) * this.config.hiddenSize);
    for (const s of this.layout.list()) {
      const k = s.name.startsWith("head.") ? kHead : kLstm;
      for (let j = 0; j < s.size; j++) this.params[s.offset + j] = rng.range(-k, k);
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
    const D = numDirections(this.config);
    if (!Number.isInteger(layer) || layer < 0 || layer >= L)
      throw new ConfigError("layer", `must be in [0, ${L}), got ${layer}`);
    if (direction !== 0 && !(direction === 1 && D === 2))
      throw new ConfigError("direction", `must be in [0, ${D}), got ${direction}`);
    const { T, B } = ws;
    const lp = ws.plan.layers[layer];
    const dir = lp.dirs[direction];
    const h = ws.view(lp.y, T * B * H).slice(); // same shape; overwritten below
    const y = ws.view(lp.y, T * B * D * H);
    for (let r = 0; r < T * B; r++)
      for (let j = 0; j < H; j++) h[r * H + j] = y[r * D * H + direction * H + j];
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

  /** Runs the stack and the head; x is [T, B, I] (or [B, T, I] batch-first). */
  forward(x: ArrayLike<number>, opts: ForwardOptions): ForwardResult {
    const { inputSize: I, hiddenSize: H, numLayers: L, outputSize: O } = this.config;
    const D = numDirections(this.config);
    const T = checkDim("seqLen (T)", opts.seqLen);
    const B = checkDim("batch (B)", opts.batch);
    const batchFirst = opts.batchFirst ?? false;
    const readout = opts.readout ?? "all";
    if (readout !== "all" && readout !== "last")
      throw new ConfigError("readout", `must be "all" or "last", got ${String(readout)}`);
    checkLength("x", x, batchFirst ? [B, T, I] : [T, B, I], batchFirst ? "[B, T, I]" : "[T, B, I]");
    checkFinite("x", x);
    if (opts.checkParams ?? true) this.checkParams();
    const ws = this.workspace(T, B); // may grow backend memory: fetch buffers after it
    const plan = ws.plan;
    const buf = ws.buf;
    const params = this.kernelParams();
    const k = this.kernels;
    const state = L * D * B * H;

    // Inputs into the workspace (time-major, model dtype).
    if (batchFirst) transposeInto(buf, plan.x, x, { A: B, B: T, W: I });
    else buf.set(x, plan.x);
    const gru = this.config.cell === "gru";
    // A GRU's cell state is empty: c0 may be absent or of length 0 (the cN it returned).
    if (gru && opts.c0 !== undefined && opts.c0.length > 0)
      throw new ConfigError("c0", "a GRU has no cell state; pass h0 only");
    for (const [name, v, o] of [
      ["h0", opts.h0, plan.h0],
      ["c0", opts.c0, plan.c0],
    ] as const) {
      if (name === "c0" && gru) continue;
      if (v === undefined) buf.fill(0, o, o + state);
      else {
        checkLength(name, v, [L * D, B, H], "[L·D, B, H]");
        checkFinite(name, v);
        buf.set(v, o);
      }
    }

    for (let l = 0; l < L; l++) {
      const lp = plan.layers[l];
      const dims = { T, B, I: l === 0 ? I : D * H, H };
      const x = layerInput(buf, plan, l, { I, DH: D * H });
      for (let d = 0; d < D; d++) {
        const slab = (l * D + d) * B * H; // this layer-direction's [B, H] slice of [L·D, B, H]
        if (gru) {
          const io: GruForwardIO = {
            y: { buf, off: lp.y + d * H, ld: D * H },
            hN: { buf, off: plan.hN + slab },
            act: buf,
            work: { buf, off: plan.stepsWork },
            x,
            h0: { buf, off: plan.h0 + slab },
            params,
          };
          gruCell.forward(k, io, dims, lp.dirs[d] as GruDirection);
          continue;
        }
        const io: LstmForwardIO = {
          y: { buf, off: lp.y + d * H, ld: D * H },
          hN: { buf, off: plan.hN + slab },
          cN: { buf, off: plan.cN + slab },
          act: buf,
          work: { buf, off: plan.stepsWork },
          x,
          h0: { buf, off: plan.h0 + slab },
          c0: { buf, off: plan.c0 + slab },
          params,
        };
        lstmCell.forward(k, io, dims, lp.dirs[d] as LstmDirection);
      }
    }

    // Head on every step ([T·B] rows) or on the last time index only ([B] rows).
    const yLast = plan.layers[L - 1].y;
    const R = readout === "all" ? T * B : B;
    const hRows: Strided = {
      buf,
      off: readout === "all" ? yLast : yLast + (T - 1) * B * D * H,
      ld: D * H,
    };
    const head = { z: { buf, off: plan.z }, h: hRows, params };
    linearForward(k, head, this.paramPlan.head, { R, N: D * H, O });

    this.last = { T, B, batchFirst, readout };
    let y = ws.view(yLast, T * B * D * H);
    let output = ws.view(plan.z, R * O);
    // Finite inputs and weights give a finite output unless the head overflows float32;
    // with checkParams off, this is also where a bad weight shows up (and is then named).
    if (!allFinite(output)) {
      this.checkParams();
      const i = output.findIndex((v) => !Number.isFinite(v));
      throw new NonFiniteError("output", i, output[i], "the head output overflowed");
    }
    if (batchFirst) {
      transposeInto(buf, plan.yOut, y, { A: T, B, W: D * H });
      y = ws.view(plan.yOut, T * B * D * H);
      if (readout === "all") {
        transposeInto(buf, plan.out, output, { A: T, B, W: O });
        output = ws.view(plan.out, T * B * O);
      }
    }
    const cN = ws.view(plan.cN, gru ? 0 : state);
    return { y, hN: ws.view(plan.hN, state), cN, output };
  }

  /**
   * Backpropagates ∂loss/∂output (the layout forward returned) through the head and every
   * layer and direction over the whole sequence. Parameter gradients accumulate in `grads`.
   */
  backward(dOutput: ArrayLike<number>, opts: BackwardOptions = {}): BackwardResult {
    const pass = this.last;
    const ws = this.ws;
    if (!pass || !ws) throw new LstmError("E_STATE", "backward() called before forward()");
    const { inputSize: I, hiddenSize: H, numLayers: L, outputSize: O } = this.config;
    const D = numDirections(this.config);
    const { T, B, batchFirst, readout } = pass;
    const inputGrad = opts.inputGrad ?? true;
    const plan = ws.plan;
    const buf = ws.buf;
    const k = this.kernels;
    const R = readout === "all" ? T * B : B;
    const state = L * D * B * H;
    // The parameters forward used (the backend copy made then) and where gradients accumulate.
    const params = this.kernelParams();
    const grads = this.kernelGrads();

    const outShape = readout === "last" ? [B, O] : batchFirst ? [B, T, O] : [T, B, O];
    checkLength("dOutput", dOutput, outShape);
    checkFinite("dOutput", dOutput);
    if (batchFirst && readout === "all") transposeInto(buf, plan.dz, dOutput, { A: B, B: T, W: O });
    else buf.set(dOutput, plan.dz);

    // dY of the last layer: the head's contribution plus any direct gradient on y.
    for (const lp of plan.layers) buf.fill(0, lp.dY, lp.dY + T * B * D * H);
    const dYLast = plan.layers[L - 1].dY;
    if (opts.dY !== undefined) {
      checkLength("dY", opts.dY, batchFirst ? [B, T, D * H] : [T, B, D * H]);
      checkFinite("dY", opts.dY);
      if (batchFirst) transposeInto(buf, dYLast, opts.dY, { A: B, B: T, W: D * H });
      else buf.set(opts.dY, dYLast);
    }
    const yLast = plan.layers[L - 1].y;
    const rowOff = readout === "all" ? 0 : (T - 1) * B * D * H;
    const head = {
      grads,
      dh: { buf, off: dYLast + rowOff, ld: D * H },
      dz: { buf, off: plan.dz },
      h: { buf, off: yLast + rowOff, ld: D * H },
      params,
    };
    linearBackward(k, head, this.paramPlan.head, { R, N: D * H, O });

    const gru = this.config.cell === "gru";
    if (gru && opts.dCN !== undefined && opts.dCN.length > 0)
      throw new ConfigError("dCN", "a GRU has no cell state; pass dHN only");
    for (const [name, v, o] of [
      ["dhN", opts.dHN, plan.dhN],
      ["dcN", gru ? undefined : opts.dCN, plan.dcN],
    ] as const) {
      if (v === undefined) continue;
      checkLength(name, v, [L * D, B, H], "[L·D, B, H]");
      checkFinite(name, v);
      buf.set(v, o);
    }
    if (inputGrad) buf.fill(0, plan.dx, plan.dx + T * B * I);
    buf.fill(0, plan.dh0, plan.dh0 + state);
    if (!gru) buf.fill(0, plan.dc0, plan.dc0 + state);
    const scratch = {
      buf,
      dPre: plan.dPre,
      dh: plan.dh,
      dc: plan.dc,
      work: plan.stepsWork,
    };
    const gruScratch = { buf, dXg: plan.dPre, dHg: plan.dHg, dh: plan.dh, work: plan.stepsWork };

    for (let l = L - 1; l >= 0; l--) {
      const lp = plan.layers[l];
      const dims = { T, B, I: l === 0 ? I : D * H, H };
      const x = layerInput(buf, plan, l, { I, DH: D * H });
      const dx: Strided | null =
        l > 0
          ? { buf, off: plan.layers[l - 1].dY, ld: D * H }
          : inputGrad
            ? { buf, off: plan.dx, ld: I }
            : null;
      for (let d = 0; d < D; d++) {
        const slab = (l * D + d) * B * H;
        const at = (off: number): Block => ({ buf, off: off + slab });
        if (gru) {
          const io: GruBackwardIO = {
            grads,
            dx,
            dh0: at(plan.dh0),
            scratch: gruScratch,
            dy: { buf, off: lp.dY + d * H, ld: D * H },
            dhN: opts.dHN !== undefined ? at(plan.dhN) : null,
            act: buf,
            x,
            y: { buf, off: lp.y + d * H, ld: D * H },
            h0: at(plan.h0),
            params,
          };
          gruCell.backward(k, io, dims, lp.dirs[d] as GruDirection);
          continue;
        }
        const io: LstmBackwardIO = {
          grads,
          dx,
          dh0: at(plan.dh0),
          dc0: at(plan.dc0),
          scratch,
          dy: { buf, off: lp.dY + d * H, ld: D * H },
          dhN: opts.dHN !== undefined ? at(plan.dhN) : null,
          dcN: opts.dCN !== undefined && !gru ? at(plan.dcN) : null,
          act: buf,
          x,
          y: { buf, off: lp.y + d * H, ld: D * H },
          h0: at(plan.h0),
          c0: at(plan.c0),
          params,
        };
        lstmCell.backward(k, io, dims, lp.dirs[d] as LstmDirection);
      }
    }

    let dx = ws.view(plan.dx, T * B * I);
    if (!inputGrad) dx = dx.subarray(0, 0);
    else if (batchFirst) {
      transposeInto(buf, plan.dxOut, dx, { A: T, B, W: I });
      dx = ws.view(plan.dxOut, T * B * I);
    }
    return { dx, dh0: ws.view(plan.dh0, state), dc0: ws.view(plan.dc0, gru ? 0 : state) };
  }
}

/** Layer l's input rows: the time-major x for the first layer, else the previous layer's y. */
function layerInput(
  buf: FloatArray,
  plan: WorkspacePlan,
  l: number,
  widths: { I: number; DH: number },
): Strided {
  return l === 0
    ? { buf, off: plan.x, ld: widths.I }
    : { buf, off: plan.layers[l - 1].y, ld: widths.DH };
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

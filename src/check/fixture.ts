/**
 * Reader for the PyTorch golden-fixture format (`lstm-golden-fixture`, version 1:
 * test/fixtures/README.md, and version 2: ../shared/fixtures/v2/README.md, which adds GRU cells,
 * LSTM projections, embedding input, tied heads, dropout masks, variable lengths and the
 * `xent_final` loss). The configuration is described by valibot schemas (io/schemas.ts's building
 * blocks); every array is then checked against the shape the configuration gives it, so a
 * malformed file gives a FormatError that names the field, never a crash.
 *
 * A version-2 file is read completely even where this engine cannot run it yet:
 * `Fixture.unsupported` lists the features (`cell gru`, `proj_size`, …) and `requireSupported`
 * turns them into one clear error.
 *
 * Letters: I input, H hidden, P projection (Hout = P or H), L layers, D directions, T time,
 * B batch, O head outputs, V vocabulary (embedding rows), E embedding width, G gates (4 or 3).
 */
import * as v from "valibot";
import { count, finite, parseField, positiveInt } from "../io/schemas.js";
import { FIXTURE_LOSS_KINDS, type LossKind } from "../loss/losses.js";
import { layerSuffix, makeConfig, type ModelConfig } from "../model/config.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { numel, sameShape } from "../tensor/shape.js";

const FIXTURE_FORMAT = "lstm-golden-fixture";
/** Format versions this reader knows. */
const FIXTURE_VERSIONS = [1, 2] as const;

/** A tensor in a fixture file: shape and row-major data. */
export interface FixtureArray {
  shape: number[];
  data: number[];
}

/** One optimizer step of a replay: the loss and gradients before it, the parameters (and Adam moments) after it. */
export interface AdamStep {
  step: number;
  lossBefore: number;
  grads: Record<string, FixtureArray>;
  paramsAfter: Record<string, FixtureArray>;
  expAvg?: Record<string, FixtureArray>;
  expAvgSq?: Record<string, FixtureArray>;
}

/** An optimizer replay in a fixture: PyTorch's hyperparameters and the parameters after each step. */
export interface OptimizerReplay {
  /** `hyperparameters` as written in the file (lr, betas, eps, momentum, …). */
  hyper: Record<string, unknown>;
  steps: AdamStep[];
  lossAfterLastStep?: number;
}

/** A gradient-clipping replay in a fixture: clip_grad_norm_'s settings, the norm it measured and the gradients it left. */
export interface ClippingReplay {
  maxNorm: number;
  eps: number;
  normType: number;
  totalNormBefore: number;
  clipCoef: number;
  scaleApplied: number;
  /** null in version 2, which leaves it out (grads_after determines it). */
  totalNormAfter: number | null;
  gradsBefore: Record<string, FixtureArray>;
  gradsAfter: Record<string, FixtureArray>;
}

// ------------------------------------------------------------------------------------------------
// Configuration schemas

const probability = v.pipe(
  finite,
  v.minValue(0, "expected a probability in [0, 1)"),
  v.ltValue(1, "expected a probability in [0, 1)"),
);

const configV1Entries = {
  input_size: positiveInt,
  hidden_size: positiveInt,
  num_layers: v.pipe(positiveInt, v.maxValue(64, "expected at most 64")),
  bidirectional: v.boolean(),
  num_directions: v.optional(v.picklist([1, 2])),
  seq_len: positiveInt,
  batch: positiveInt,
  batch_first: v.boolean(),
  loss: v.picklist(["sum_sq", "mse_last", "xent"]),
  head_out_size: positiveInt,
  init_state: v.optional(v.picklist(["zeros", "random"])),
  dtype: v.optional(v.string()),
};

/** `config` of a version-1 file: one LSTM, dense input, a Linear head. */
const FixtureConfigV1Schema = v.looseObject(configV1Entries);

/** `config` of a version-2 file (v2 README, "New config fields"). */
const FixtureConfigV2Schema = v.looseObject({
  ...configV1Entries,
  loss: v.picklist(
    FIXTURE_LOSS_KINDS as readonly ("sum_sq" | "mse_last" | "xent" | "xent_final")[],
  ),
  cell: v.picklist(["lstm", "gru"]),
  proj_size: count,
  input: v.variant("kind", [
    v.object({ kind: v.literal("dense") }),
    v.object({
      kind: v.literal("embedding"),
      num_embeddings: positiveInt,
      embedding_dim: positiveInt,
      padding_idx: v.nullable(count),
    }),
  ]),
  tied_head: v.boolean(),
  dropout: v.nullable(
    v.object({ input: probability, between_layers: probability, output: probability }),
  ),
  lengths: v.boolean(),
});

export type FixtureLoss = v.InferOutput<typeof FixtureConfigV2Schema>["loss"];

/** Everything the configuration says, in both versions (version 1: the defaults). */
export interface FixtureSpec {
  cell: "lstm" | "gru";
  I: number;
  H: number;
  /** LSTM projection size; 0 = none. */
  P: number;
  L: number;
  D: number;
  T: number;
  B: number;
  O: number;
  batchFirst: boolean;
  loss: FixtureLoss;
  input: { kind: "dense" } | { kind: "embedding"; V: number; E: number; paddingIdx: number | null };
  tiedHead: boolean;
  dropout: { input: number; betweenLayers: number; output: number } | null;
  lengths: boolean;
}

/** A fixture of either version, read completely (also what the engine cannot run yet). */
export interface ParsedFixture {
  name: string;
  /** Format version of the file (1 or 2). */
  version: number;
  /** The sizes as an lstm-ts model configuration (inputSize = E for embedding input). */
  config: ModelConfig;
  spec: FixtureSpec;
  /** Features of this file the engine cannot run yet (empty: `verifyFixture` can run it). */
  unsupported: string[];
  seqLen: number;
  batch: number;
  batchFirst: boolean;
  loss: FixtureLoss;
  paramOrder: string[];
  params: Record<string, FixtureArray>;
  inputs: {
    /** Float features, or token indices [T, B] ([B, T] batch-first) for embedding input. */
    x: FixtureArray;
    h0: FixtureArray;
    /** LSTM only. */
    c0?: FixtureArray;
    targets: FixtureArray;
    /** Version 2 with `lengths`: each row's length, int [B]. */
    lengths?: FixtureArray;
    /** Version 2: `input`, `between_l{k}`, `output`, each of 0/1 entries. */
    dropoutMasks: Record<string, FixtureArray>;
  };
  outputs: { y: FixtureArray; hN: FixtureArray; cN?: FixtureArray; loss: number };
  /** d loss / d tensor for every parameter and for x (dense input), h0, c0 (LSTM). */
  grads: Record<string, FixtureArray>;
  /** Per layer-direction key (`l0`, `l0_reverse`, …): gates [T,B,4H], c and h [T,B,H]. */
  intermediates: Record<string, { gates: FixtureArray; c: FixtureArray; h: FixtureArray }>;
  optimizers: Record<string, OptimizerReplay>;
  clipping?: ClippingReplay;
}

/**
 * A fixture the engine runs: an LSTM (c0, c_n present) or a GRU (absent) with dense input and a
 * per-step or last-step loss.
 */
export interface Fixture extends Omit<ParsedFixture, "loss"> {
  loss: LossKind;
}

/** The features of `spec` this engine does not run yet, as `unsupported: …` names them. */
function unsupportedFeatures(spec: FixtureSpec): string[] {
  const out: string[] = [];
  if (spec.P > 0 && spec.cell !== "lstm") out.push("proj_size");
  return out;
}

/**
 * The fixture as one the engine runs, or a FormatError `file: unsupported: proj_size, dropout`
 * listing every feature it cannot run yet.
 */
function requireSupported(f: ParsedFixture, file = f.name): Fixture {
  const { loss, inputs, outputs } = f;
  const lstm = f.spec.cell === "lstm";
  if (f.unsupported.length > 0 || (lstm && (!inputs.c0 || !outputs.cN)))
    throw new FormatError(
      file,
      `unsupported: ${f.unsupported.join(", ")} (format ${f.version}; this build runs LSTM and ` +
        `GRU fixtures)`,
    );
  return { ...f, loss };
}

/** Parameter names and shapes in PyTorch `named_parameters()` order. */
function fixtureParamShapes(s: FixtureSpec): Map<string, number[]> {
  const G = s.cell === "lstm" ? 4 : 3;
  const Hout = s.P > 0 ? s.P : s.H;
  const shapes = new Map<string, number[]>();
  if (s.input.kind === "embedding") shapes.set("embedding.weight", [s.input.V, s.input.E]);
  const firstIn = s.input.kind === "embedding" ? s.input.E : s.I;
  for (let l = 0; l < s.L; l++)
    for (let d = 0; d < s.D; d++) {
      const k = layerSuffix(l, d);
      shapes.set(`${s.cell}.weight_ih_${k}`, [G * s.H, l === 0 ? firstIn : s.D * Hout]);
      shapes.set(`${s.cell}.weight_hh_${k}`, [G * s.H, Hout]);
      shapes.set(`${s.cell}.bias_ih_${k}`, [G * s.H]);
      shapes.set(`${s.cell}.bias_hh_${k}`, [G * s.H]);
      if (s.P > 0) shapes.set(`${s.cell}.weight_hr_${k}`, [s.P, s.H]);
    }
  if (!s.tiedHead) shapes.set("head.weight", [s.O, s.D * Hout]);
  shapes.set("head.bias", [s.O]);
  return shapes;
}

/** The configuration of a file of `version`, checked field by field and against itself. */
function readSpec(r: Reader, raw: unknown, version: number): FixtureSpec {
  const at = { source: r.source, where: "config" };
  const c1 = version === 1 ? parseField(FixtureConfigV1Schema, raw, at) : null;
  const c = c1 ?? parseField(FixtureConfigV2Schema, raw, at);
  const v2 = c1 === null ? (c as v.InferOutput<typeof FixtureConfigV2Schema>) : null;
  const D = c.bidirectional ? 2 : 1;
  if (c.num_directions !== undefined && c.num_directions !== D)
    r.fail(
      "config.num_directions",
      `is ${c.num_directions} but bidirectional is ${c.bidirectional}`,
    );
  const input = v2?.input ?? { kind: "dense" as const };
  const spec: FixtureSpec = {
    cell: v2?.cell ?? "lstm",
    I: c.input_size,
    H: c.hidden_size,
    P: v2?.proj_size ?? 0,
    L: c.num_layers,
    D,
    T: c.seq_len,
    B: c.batch,
    O: c.head_out_size,
    batchFirst: c.batch_first,
    loss: c.loss,
    input:
      input.kind === "dense"
        ? input
        : {
            kind: "embedding",
            V: input.num_embeddings,
            E: input.embedding_dim,
            paddingIdx: input.padding_idx,
          },
    tiedHead: v2?.tied_head ?? false,
    dropout: v2?.dropout
      ? {
          input: v2.dropout.input,
          betweenLayers: v2.dropout.between_layers,
          output: v2.dropout.output,
        }
      : null,
    lengths: v2?.lengths ?? false,
  };
  const Hout = spec.P > 0 ? spec.P : spec.H;
  if (spec.P > 0 && spec.cell !== "lstm")
    r.fail("config.proj_size", `only an LSTM has a projection (cell is ${spec.cell})`);
  if (spec.P >= spec.H)
    r.fail(
      "config.proj_size",
      `${spec.P} must be smaller than hidden_size ${spec.H} (as in PyTorch)`,
    );
  if (spec.input.kind === "embedding") {
    const { V, E, paddingIdx } = spec.input;
    if (E !== spec.I)
      r.fail(
        "config.input.embedding_dim",
        `${E} but input_size is ${spec.I} (the first layer's input)`,
      );
    if (paddingIdx !== null && paddingIdx >= V)
      r.fail("config.input.padding_idx", `${paddingIdx} is outside [0, ${V})`);
  }
  if (spec.tiedHead) {
    if (spec.input.kind !== "embedding")
      r.fail(
        "config.tied_head",
        "a tied head uses embedding.weight: the input must be an embedding",
      );
    else if (spec.input.V !== spec.O || spec.input.E !== spec.D * Hout)
      r.fail(
        "config.tied_head",
        `embedding.weight is [${spec.input.V}, ${spec.input.E}] but the head needs [O, D·Hout] = [${spec.O}, ${spec.D * Hout}]`,
      );
  }
  return spec;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

class Reader {
  constructor(readonly source: string) {}

  fail(path: string, msg: string): never {
    throw new FormatError(this.source, `${path}: ${msg}`);
  }

  obj(v: unknown, path: string): Obj {
    if (!isObj(v)) this.fail(path, "expected an object");
    return v;
  }

  int(v: unknown, path: string, min = 1, max = 1 << 24): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      this.fail(path, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return v;
  }

  num(v: unknown, path: string): number {
    if (typeof v !== "number" || !Number.isFinite(v))
      this.fail(path, `expected a finite number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(v: unknown, path: string): boolean {
    if (typeof v !== "boolean") this.fail(path, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** An array object {shape, data}, checked against the expected shape. */
  array(v: unknown, path: string, expect: readonly number[], integer = false): FixtureArray {
    const o = this.obj(v, path);
    const shape = o.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      this.fail(`${path}.shape`, "expected a list of non-negative integers");
    if (!sameShape(shape, expect))
      this.fail(`${path}.shape`, `expected [${expect.join(", ")}], got [${shape.join(", ")}]`);
    const data = o.data;
    if (!Array.isArray(data)) this.fail(`${path}.data`, "expected a list of numbers");
    if (data.length !== numel(expect))
      this.fail(
        `${path}.data`,
        `expected ${numel(expect)} numbers for shape [${expect.join(", ")}], got ${data.length}`,
      );
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (typeof x !== "number" || !Number.isFinite(x) || (integer && !Number.isInteger(x)))
        this.fail(
          `${path}.data[${i}]`,
          `expected a finite ${integer ? "integer" : "number"}, got ${JSON.stringify(x)}`,
        );
    }
    return { shape: shape as number[], data: data as number[] };
  }

  /** An entry the configuration rules out; returns undefined when it is indeed absent. */
  absent(v: unknown, path: string, why: string): undefined {
    if (v !== undefined) this.fail(path, `must be absent (${why})`);
    return undefined;
  }

  /** Integer entries of `a` must lie in [0, n): token indices or classes. */
  indices(a: FixtureArray, path: string, n: number, what = "index"): void {
    const bad = a.data.findIndex((k) => k < 0 || k >= n);
    if (bad >= 0) this.fail(`${path}.data[${bad}]`, `${what} ${a.data[bad]} is outside [0, ${n})`);
  }

  /** {name: array} for every parameter name. */
  paramMap(
    v: unknown,
    path: string,
    shapes: Map<string, readonly number[]>,
  ): Record<string, FixtureArray> {
    const o = this.obj(v, path);
    const out: Record<string, FixtureArray> = {};
    for (const [name, shape] of shapes)
      out[name] = this.array(o[name], `${path}["${name}"]`, shape);
    return out;
  }
}

/**
 * Validates a parsed fixture object of either version completely, also where the engine cannot
 * run it (`unsupported` lists why). `source` names the file in errors.
 */
export function readAnyFixture(json: unknown, source: string): ParsedFixture {
  const r: Reader = new Reader(source);
  const root = r.obj(json, "(root)");
  if (root.format !== FIXTURE_FORMAT)
    r.fail("format", `expected "${FIXTURE_FORMAT}", got ${JSON.stringify(root.format)}`);
  const version = root.format_version;
  if (!(FIXTURE_VERSIONS as readonly unknown[]).includes(version))
    r.fail(
      "format_version",
      `version ${JSON.stringify(version)} is not supported (this reader knows ${FIXTURE_VERSIONS.join(" and ")})`,
    );
  const spec = readSpec(r, root.config, version as number);
  const { cell, H, L, D, T, B, O, batchFirst, loss } = spec;
  const Hout = spec.P > 0 ? spec.P : H;
  const lstm = cell === "lstm";
  const embedding = spec.input.kind === "embedding";
  const I = spec.input.kind === "embedding" ? spec.input.E : spec.I;
  let config: ModelConfig;
  try {
    const drop = spec.dropout;
    config = makeConfig({
      cell,
      inputSize: I,
      hiddenSize: H,
      numLayers: L,
      bidirectional: D === 2,
      outputSize: O,
      projSize: spec.P,
      embedding:
        spec.input.kind === "embedding"
          ? { numEmbeddings: spec.input.V, paddingIdx: spec.input.paddingIdx }
          : undefined,
      tiedHead: spec.tiedHead,
      dropout: drop ?? undefined,
    });
  } catch (e) {
    if (e instanceof ConfigError) r.fail("config", e.message);
    throw e;
  }

  const shapes = fixtureParamShapes(spec);
  const order = root.param_order;
  if (!Array.isArray(order) || !order.every((n) => typeof n === "string"))
    r.fail("param_order", "expected a list of parameter names");
  const want = [...shapes.keys()];
  if (order.length !== want.length || order.some((n, i) => n !== want[i]))
    r.fail(
      "param_order",
      `expected [${want.join(", ")}] for this config, got [${order.join(", ")}]`,
    );

  const seq = (w: number): number[] => (batchFirst ? [B, T, w] : [T, B, w]);
  const seqIndex = batchFirst ? [B, T] : [T, B];
  const state = [L * D, B, Hout];
  const cellState = [L * D, B, H];
  const targetShape =
    loss === "sum_sq" ? seq(O) : loss === "mse_last" ? [B, O] : loss === "xent" ? seqIndex : [B];
  const classes = loss === "xent" || loss === "xent_final";

  const inp = r.obj(root.inputs, "inputs");
  const inputs: ParsedFixture["inputs"] = {
    x: embedding ? r.array(inp.x, "inputs.x", seqIndex, true) : r.array(inp.x, "inputs.x", seq(I)),
    h0: r.array(inp.h0, "inputs.h0", state),
    c0: lstm
      ? r.array(inp.c0, "inputs.c0", cellState)
      : r.absent(inp.c0, "inputs.c0", "a GRU has no cell state"),
    targets: r.array(inp.targets, "inputs.targets", targetShape, classes),
    dropoutMasks: {},
  };
  if (spec.input.kind === "embedding") r.indices(inputs.x, "inputs.x", spec.input.V);
  if (classes) r.indices(inputs.targets, "inputs.targets", O, "class");
  if (spec.lengths) {
    inputs.lengths = r.array(inp.lengths, "inputs.lengths", [B], true);
    const bad = inputs.lengths.data.findIndex((n) => n < 1 || n > T);
    if (bad >= 0)
      r.fail(`inputs.lengths.data[${bad}]`, `${inputs.lengths.data[bad]} is outside [1, ${T}]`);
  } else r.absent(inp.lengths, "inputs.lengths", "config.lengths is false");
  if (inp.dropout_masks !== undefined) {
    const masks = r.obj(inp.dropout_masks, "inputs.dropout_masks");
    if (!spec.dropout) r.fail("inputs.dropout_masks", "config.dropout is null");
    const maskShapes = new Map<string, number[]>([["input", seq(I)]]);
    for (let k = 0; k + 1 < L; k++) maskShapes.set(`between_l${k}`, seq(D * Hout));
    maskShapes.set("output", loss === "xent_final" ? [B, D * Hout] : seq(D * Hout));
    for (const [key, m] of Object.entries(masks)) {
      const shape = maskShapes.get(key);
      if (!shape)
        r.fail(
          `inputs.dropout_masks.${key}`,
          `unknown mask (known: ${[...maskShapes.keys()].join(", ")})`,
        );
      const a = r.array(m, `inputs.dropout_masks.${key}`, shape!, true);
      const bad = a.data.findIndex((x) => x !== 0 && x !== 1);
      if (bad >= 0)
        r.fail(`inputs.dropout_masks.${key}.data[${bad}]`, `expected 0 or 1, got ${a.data[bad]}`);
      inputs.dropoutMasks[key] = a;
    }
  }
  const out = r.obj(root.outputs, "outputs");
  const outputs: ParsedFixture["outputs"] = {
    y: r.array(out.y, "outputs.y", seq(D * Hout)),
    hN: r.array(out.h_n, "outputs.h_n", state),
    cN: lstm
      ? r.array(out.c_n, "outputs.c_n", cellState)
      : r.absent(out.c_n, "outputs.c_n", "a GRU has no cell state"),
    loss: r.num(out.loss, "outputs.loss"),
  };
  const g = r.obj(root.grads, "grads");
  const grads = r.paramMap(g, "grads", shapes);
  if (embedding) r.absent(g.x, "grads.x", "token indices have no gradient");
  else grads.x = r.array(g.x, "grads.x", seq(I));
  grads.h0 = r.array(g.h0, "grads.h0", state);
  if (lstm) grads.c0 = r.array(g.c0, "grads.c0", cellState);
  else r.absent(g.c0, "grads.c0", "a GRU has no cell state");

  const intermediates: ParsedFixture["intermediates"] = {};
  if (root.intermediates !== undefined) {
    if (!lstm || spec.P > 0) r.fail("intermediates", "only plain LSTM files have intermediates");
    const im = r.obj(root.intermediates, "intermediates");
    for (let l = 0; l < L; l++)
      for (let d = 0; d < D; d++) {
        const key = layerSuffix(l, d);
        if (im[key] === undefined) continue;
        const e = r.obj(im[key], `intermediates.${key}`);
        intermediates[key] = {
          gates: r.array(e.gates, `intermediates.${key}.gates`, [T, B, 4 * H]),
          c: r.array(e.c, `intermediates.${key}.c`, [T, B, H]),
          h: r.array(e.h, `intermediates.${key}.h`, [T, B, H]),
        };
      }
  }

  const optimizers: Record<string, OptimizerReplay> = {};
  if (root.optimizers !== undefined) {
    const opt = r.obj(root.optimizers, "optimizers");
    for (const [name, v] of Object.entries(opt)) {
      const p = `optimizers.${name}`;
      const o = r.obj(v, p);
      if (!Array.isArray(o.steps) || o.steps.length === 0)
        r.fail(`${p}.steps`, "expected a non-empty list");
      const hyper = r.obj(o.hyperparameters ?? {}, `${p}.hyperparameters`);
      const steps = o.steps.map((sv, i): AdamStep => {
        const sp = `${p}.steps[${i}]`;
        const s = r.obj(sv, sp);
        return {
          step: r.int(s.step, `${sp}.step`),
          lossBefore: r.num(s.loss_before, `${sp}.loss_before`),
          grads: r.paramMap(s.grads, `${sp}.grads`, shapes),
          paramsAfter: r.paramMap(s.params_after, `${sp}.params_after`, shapes),
          expAvg:
            s.exp_avg === undefined ? undefined : r.paramMap(s.exp_avg, `${sp}.exp_avg`, shapes),
          expAvgSq:
            s.exp_avg_sq === undefined
              ? undefined
              : r.paramMap(s.exp_avg_sq, `${sp}.exp_avg_sq`, shapes),
        };
      });
      optimizers[name] = {
        hyper,
        steps,
        lossAfterLastStep:
          o.loss_after_last_step === undefined
            ? undefined
            : r.num(o.loss_after_last_step, `${p}.loss_after_last_step`),
      };
    }
  }

  let clipping: ClippingReplay | undefined;
  if (root.clipping !== undefined) {
    const cl = r.obj(root.clipping, "clipping");
    clipping = {
      maxNorm: r.num(cl.max_norm, "clipping.max_norm"),
      eps: r.num(cl.eps ?? 1e-6, "clipping.eps"),
      normType: r.num(cl.norm_type ?? 2, "clipping.norm_type"),
      totalNormBefore: r.num(cl.total_norm_before, "clipping.total_norm_before"),
      clipCoef: r.num(cl.clip_coef, "clipping.clip_coef"),
      scaleApplied: r.num(cl.scale_applied, "clipping.scale_applied"),
      totalNormAfter:
        cl.total_norm_after === undefined && version === 2
          ? null
          : r.num(cl.total_norm_after, "clipping.total_norm_after"),
      gradsBefore: r.paramMap(cl.grads_before, "clipping.grads_before", shapes),
      gradsAfter: r.paramMap(cl.grads_after, "clipping.grads_after", shapes),
    };
  }

  return {
    name: typeof root.name === "string" ? root.name : source,
    version: version as number,
    config,
    spec,
    unsupported: unsupportedFeatures(spec),
    seqLen: T,
    batch: B,
    batchFirst,
    loss,
    paramOrder: order as string[],
    params: r.paramMap(root.params, "params", shapes),
    inputs,
    outputs,
    grads,
    intermediates,
    optimizers,
    clipping,
  };
}

/** Validates a fixture the engine can run; FormatError otherwise (`unsupported: …`). */
export function readFixture(json: unknown, source: string): Fixture {
  return requireSupported(readAnyFixture(json, source), source);
}

/** Parses JSON text and validates it (readFixture); JSON syntax errors become FormatError. */
export function parseFixture(text: string, source: string): Fixture {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError(source, `not valid JSON (${(e as Error).message})`);
  }
  return readFixture(json, source);
}

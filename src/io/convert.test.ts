import assert from "node:assert/strict";
import * as v from "valibot";
import { describe, it } from "node:test";
import {
  buildMeta,
  checkConverted,
  exportKeras,
  exportTfjs,
  importKeras,
  importPytorchSafetensors,
  importPytorchTensors,
  parseVocab,
  sniffFormat,
  type KerasLstmFile,
} from "./convert.js";
import { KerasLstmWrittenSchema } from "./schemas.js";
import { encodeModel, type ModelMeta } from "./model-file.js";
import { encodeSafetensors, type SafetensorsInput } from "./safetensors.js";
import { LstmModel } from "../model/model.js";
import type { ModelConfigInput } from "../model/config.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { BIDI, randomModel, randomInput, scaledError } from "../../test/numeric.js";

// ------------------------------------------------------------------------------------------------
// Helpers

const UNI: ModelConfigInput = { inputSize: 5, hiddenSize: 6, numLayers: 1, outputSize: 3 };

/** The model's tensors under PyTorch names with other module prefixes ("" for bare keys). */
function stateDict(
  m: LstmModel,
  opts: { lstm?: string; head?: string; dtype?: "F32" | "F64" } = {},
): SafetensorsInput[] {
  const lstm = opts.lstm ?? "lstm";
  const head = opts.head ?? "head";
  return m.paramNames().map((n) => {
    const [mod, rest] = [n.slice(0, n.indexOf(".")), n.slice(n.indexOf(".") + 1)];
    const p = mod === "lstm" ? lstm : head;
    return {
      name: p === "" ? rest : `${p}.${rest}`,
      dtype: opts.dtype ?? "F32",
      shape: [...m.paramShape(n)],
      data: Float64Array.from(m.param(n)),
    };
  });
}

const st = (tensors: SafetensorsInput[]) => encodeSafetensors(tensors, { format: "pt" });

function run(m: LstmModel, x: ArrayLike<number>, T: number, B: number) {
  const r = m.forward(x, { seqLen: T, batch: B });
  return {
    y: Array.from(r.y),
    hN: Array.from(r.hN),
    cN: Array.from(r.cN),
    output: Array.from(r.output),
  };
}

function assertSameParams(a: LstmModel, b: LstmModel): void {
  assert.deepEqual(a.config, b.config);
  assert.deepEqual(Array.from(a.params), Array.from(b.params));
}

/** Builds safetensors bytes by hand (for dtypes our writer refuses, e.g. F16). */
function rawSafetensors(header: Record<string, unknown>, dataBytes: number): Uint8Array {
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return out;
}

const sig = (v: number) => 1 / (1 + Math.exp(-v));

// ------------------------------------------------------------------------------------------------
// PyTorch

describe("importPytorchSafetensors", () => {
  for (const [lstm, head] of [
    ["rnn", "fc"],
    ["", "head"],
    ["lstm", "linear"],
    ["encoder.lstm", "decoder"],
  ])
    it(`imports keys "${lstm ? `${lstm}.` : ""}weight_ih_l0…" with head "${head}.*" bit for bit`, () => {
      const m = randomModel(BIDI, 1);
      const { model, report } = importPytorchSafetensors(
        st(stateDict(m, { lstm, head })),
        "sd.safetensors",
      );
      assertSameParams(model, m);
      assert.equal(report.lstmPrefix, lstm);
      assert.equal(report.headPrefix, head);
      assert.deepEqual(report.dtypes, ["F32"]);
      assert.deepEqual(report.notes, []);
    });

  it("infers I, H, L, D and O for a unidirectional model, and reads our own model file", () => {
    const m = randomModel(UNI, 2);
    const { model } = importPytorchSafetensors(st(stateDict(m)), "sd");
    assert.deepEqual(model.config, { cell: "lstm", ...UNI, bidirectional: false });
    const own = importPytorchSafetensors(
      encodeModel(m, { task: "generic", input: { kind: "dense" } }),
      "own",
    );
    assertSameParams(own.model, m);
  });

  it("accepts float64 tensors, rounded to float32, and says so", () => {
    const m = randomModel(UNI, 3);
    const sd = stateDict(m, { dtype: "F64" });
    for (const t of sd) (t.data as Float64Array).forEach((v, i, a) => (a[i] = v + 1e-9));
    const { model, report } = importPytorchSafetensors(st(sd), "sd");
    assert.deepEqual(report.dtypes, ["F64"]);
    assert.match(report.notes.join("\n"), /float64 weights rounded to float32/);
    let k = 0;
    for (const t of sd)
      for (const v of t.data as Float64Array) assert.equal(model.params[k++], Math.fround(v));
  });

  it("takes --lstm-prefix and --head-prefix for names it does not guess", () => {
    const m = randomModel(UNI, 4);
    const bytes = st(stateDict(m, { lstm: "enc.rnn", head: "readout" }));
    assert.throws(
      () => importPytorchSafetensors(bytes, "sd"),
      (e: Error) =>
        e instanceof FormatError &&
        /no head found/.test(e.message) &&
        /--head-prefix/.test(e.message),
    );
    const { model, report } = importPytorchSafetensors(bytes, "sd", {
      lstmPrefix: "enc.rnn",
      headPrefix: "readout.",
    });
    assertSameParams(model, m);
    assert.equal(report.headPrefix, "readout");
    assert.throws(
      () => importPytorchSafetensors(bytes, "sd", { lstmPrefix: "rnn", headPrefix: "readout" }),
      (e: Error) =>
        e instanceof ConfigError &&
        /lstm prefix: no nn.LSTM tensors named rnn.weight_ih_l0; LSTM prefixes in sd: "enc.rnn"/.test(
          e.message,
        ),
    );
    assert.throws(
      () => importPytorchSafetensors(bytes, "sd", { headPrefix: "classifier" }),
      /head prefix: no tensor "classifier.weight"/,
    );
  });

  it("stores absent biases (bias=False) as zeros and says so", () => {
    const m = randomModel(UNI, 5);
    const sd = stateDict(m).filter((t) => !t.name.includes("bias"));
    const { model, report } = importPytorchSafetensors(st(sd), "sd");
    for (const n of model.paramNames())
      if (n.includes("bias"))
        assert.ok(
          model.param(n).every((v) => v === 0),
          n,
        );
      else assert.deepEqual(Array.from(model.param(n)), Array.from(m.param(n)));
    assert.match(report.notes.join("\n"), /bias=False/);
  });

  /** Imports a state_dict of BIDI under rnn./fc. after `edit`, expecting an error matching `re`. */
  function rejects(
    edit: (sd: SafetensorsInput[]) => SafetensorsInput[],
    re: RegExp,
    cls = FormatError,
  ) {
    const sd = edit(stateDict(randomModel(BIDI, 6), { lstm: "rnn", head: "fc" }));
    assert.throws(
      () => importPytorchSafetensors(st(sd), "sd.safetensors"),
      (e: Error) => {
        assert.ok(e instanceof cls, `${e.name}: ${e.message}`);
        assert.match(e.message, re);
        assert.ok(e.message.startsWith("sd.safetensors: "), e.message);
        return true;
      },
    );
  }
  const drop = (name: string) => (sd: SafetensorsInput[]) => sd.filter((t) => t.name !== name);
  const reshape = (name: string, shape: number[]) => (sd: SafetensorsInput[]) =>
    sd.map((t) =>
      t.name === name
        ? { ...t, shape, data: new Float64Array(shape.reduce((a, b) => a * b, 1)) }
        : t,
    );

  it("names the missing tensor", () => {
    rejects(drop("rnn.bias_hh_l0"), /missing tensor "rnn.bias_hh_l0"/);
    rejects(drop("rnn.weight_hh_l1_reverse"), /missing tensor "rnn.weight_hh_l1_reverse"/);
    rejects(
      (sd) => sd.filter((t) => !t.name.endsWith("_l1_reverse")),
      /missing tensor "rnn.weight_ih_l1_reverse".*bidirectional/,
    );
    rejects((sd) => sd.filter((t) => !/_l0/.test(t.name)), /missing tensor "rnn.weight_hh_l0"/);
    rejects(
      (sd) =>
        sd
          .filter((t) => !/_l1/.test(t.name))
          .concat(
            sd
              .filter((t) => /_l1/.test(t.name))
              .map((t) => ({ ...t, name: t.name.replace("_l1", "_l2") })),
          ),
      /missing tensor "rnn.weight_ih_l1" \(layers 0…2 must all be present\)/,
    );
  });

  it("names the tensor with a wrong shape", () => {
    rejects(
      reshape("rnn.weight_hh_l0", [16, 5]),
      /"rnn.weight_hh_l0" has shape \[16, 5\], expected \[4H, H\]/,
    );
    rejects(
      reshape("rnn.weight_ih_l0", [12, 3]),
      /"rnn.weight_ih_l0" has shape \[12, 3\], expected \[16, I\]/,
    );
    rejects(
      reshape("rnn.weight_hh_l1", [16, 5]),
      /"rnn.weight_hh_l1" has shape \[16, 5\], expected \[16, 4\]/,
    );
    rejects(
      reshape("rnn.weight_ih_l1", [16, 4]),
      /"rnn.weight_ih_l1" has shape \[16, 4\], expected \[16, 8\]/,
    );
    rejects(
      reshape("rnn.bias_ih_l1_reverse", [15]),
      /"rnn.bias_ih_l1_reverse" has shape \[15\], expected \[16\]/,
    );
    rejects(reshape("fc.weight", [2, 4]), /"fc.weight" has shape \[2, 4\], expected \[O, 8\]/);
    rejects(reshape("fc.bias", [3]), /"fc.bias" has shape \[3\], expected \[2\]/);
  });

  it("rejects other dtypes, non-finite values and tensors it would ignore", () => {
    rejects(
      (sd) =>
        sd.map((t) =>
          t.name === "rnn.bias_ih_l0" ? { ...t, dtype: "I32", data: new Int32Array(16) } : t,
        ),
      /tensor "rnn.bias_ih_l0" has dtype I32, expected F32 or F64/,
    );
    rejects(
      (sd) =>
        sd.map((t) =>
          t.name === "fc.weight"
            ? {
                ...t,
                data: Float64Array.from(t.data as Float64Array, (v, i) => (i === 3 ? NaN : v)),
              }
            : t,
        ),
      /tensor "fc.weight" holds NaN at index 3/,
    );
    rejects(
      (sd) => sd.map((t) => (t.name === "fc.bias" ? { ...t, dtype: "F64", data: [1e300, 0] } : t)),
      /tensor "fc.bias": value 1e\+300 at index 0 overflows float32/,
    );
    rejects(
      (sd) => [...sd, { name: "embedding.weight", dtype: "F32", shape: [2], data: [1, 2] }],
      /tensor "embedding.weight" has shape \[2\], expected \[V, 3\] \(the LSTM's input size\)/,
    );
    rejects(
      (sd) => [...sd, { name: "classifier.weight", dtype: "F32", shape: [2], data: [1, 2] }],
      /tensors not part of an nn.LSTM\/nn.GRU \+ nn.Linear model: classifier.weight/,
    );
    rejects(
      (sd) => [...sd, { name: "rnn.weight_hr_l0", dtype: "F32", shape: [2], data: [1, 2] }],
      /tensor "rnn.weight_hr_l0" has shape \[2\], expected \[P, H\] with P < H/,
    );
    rejects(
      (sd) => [...sd, ...stateDict(randomModel(BIDI, 7), { lstm: "dec", head: "x" }).slice(0, 4)],
      /several nn.LSTM modules \(prefixes "rnn", "dec"\); choose one with --lstm-prefix/,
    );
    rejects(
      (sd) => [
        ...sd,
        ...sd
          .filter((t) => t.name.startsWith("fc."))
          .map((t) => ({ ...t, name: t.name.replace("fc.", "head.") })),
      ],
      /several possible heads \(head.weight, fc.weight\); choose one with --head-prefix/,
    );
    rejects(
      () => [{ name: "w", dtype: "F32", shape: [1], data: [0] }],
      /no nn.LSTM or nn.GRU parameters found .*keys: w/,
    );
  });

  it("gives a clear error for float16 and bfloat16 files", () => {
    for (const dtype of ["F16", "BF16"]) {
      const bytes = rawSafetensors(
        {
          "lstm.weight_ih_l0": { dtype, shape: [4, 1], data_offsets: [0, 8] },
          "lstm.weight_hh_l0": { dtype: "F32", shape: [4, 1], data_offsets: [8, 24] },
        },
        24,
      );
      assert.throws(
        () => importPytorchSafetensors(bytes, "half.safetensors"),
        new RegExp(
          `half.safetensors: tensor "lstm.weight_ih_l0" has dtype ${dtype}: unsupported dtype, convert to float32 in PyTorch first`,
        ),
      );
      assert.throws(
        () =>
          importPytorchTensors(new Map([["lstm.weight_hh_l0", { dtype, shape: [4, 1] }]]), "map"),
        /dtype .*F16: unsupported dtype, convert to float32 in PyTorch first/,
      );
    }
  });

  it("rejects malformed safetensors with the decoder's FormatError", () => {
    assert.throws(() => importPytorchSafetensors(new Uint8Array(5), "bad"), FormatError);
  });
});

// ------------------------------------------------------------------------------------------------
// Keras

describe("Keras JSON", () => {
  for (const [name, cfg] of [
    ["2-layer bidirectional", BIDI],
    ["unidirectional", UNI],
  ] as const)
    it(`${name}: ours → keras → ours gives the same forward outputs`, () => {
      const m = randomModel(cfg, 11);
      const json = JSON.parse(JSON.stringify(exportKeras(m))) as KerasLstmFile;
      assert.ok(
        v.is(KerasLstmWrittenSchema, json),
        "the export fits the schema of what is written",
      );
      const { model, report } = importKeras(json, "k.json");
      assert.deepEqual(model.config, m.config);
      assert.match(report.notes.join(), /bias_hh = 0/);
      // Weights identical; bias_ih = the sum, bias_hh = 0.
      for (const n of m.paramNames()) {
        if (n.includes("bias_hh")) assert.ok(model.param(n).every((v) => v === 0));
        else if (n.includes("bias_ih")) {
          const sum = m
            .param(n)
            .map((v, i) => Math.fround(v + m.param(n.replace("_ih", "_hh"))[i]));
          assert.deepEqual(Array.from(model.param(n)), Array.from(sum), n);
        } else assert.deepEqual(Array.from(model.param(n)), Array.from(m.param(n)), n);
      }
      const T = 6;
      const B = 3;
      const x = randomInput(T * B * cfg.inputSize, 12);
      const a = run(model, x, T, B);
      const e = run(m, x, T, B);
      for (const k of ["y", "hN", "cN", "output"] as const)
        assert.ok(scaledError(a[k], e[k]) <= 1e-6, `${k}: ${scaledError(a[k], e[k])}`);
      // And back: the exported JSON is the same.
      assert.deepEqual(JSON.parse(JSON.stringify(exportKeras(model))), json);
    });

  it("writes kernel = W_ihᵀ [I, 4H], recurrent_kernel = W_hhᵀ, bias = sum, dense.kernel = head.weightᵀ", () => {
    const m = randomModel(UNI, 13);
    const k = exportKeras(m);
    const H = 6;
    const I = 5;
    assert.deepEqual(k.layers[0].kernel.shape, [I, 4 * H]);
    assert.deepEqual(k.layers[0].recurrent_kernel.shape, [H, 4 * H]);
    assert.deepEqual(k.dense.kernel.shape, [H, 3]);
    const wih = m.param("lstm.weight_ih_l0");
    for (const [row, col] of [
      [0, 0],
      [7, 2],
      [23, 4],
      [13, 1],
    ])
      // prettier-ignore
      assert.equal(k.layers[0].kernel.data[col * 4 * H + row], wih[row * I + col]);
    assert.equal(k.dense.kernel.data[4 * 3 + 2], m.param("head.weight")[2 * H + 4]);
    assert.equal(
      k.layers[0].bias!.data[9],
      m.param("lstm.bias_ih_l0")[9] + m.param("lstm.bias_hh_l0")[9],
    );
  });

  // A hand-built Keras LSTM: I = H = O = 1, T = 2, gate columns i | f | c | o.
  const ln2 = Math.log(2);
  const ln3 = Math.log(3);
  const tiny = (): KerasLstmFile => ({
    format: "keras-lstm",
    format_version: 1,
    layers: [
      {
        kernel: { shape: [1, 4], data: [ln3, 0, ln2, -ln3] },
        recurrent_kernel: { shape: [1, 4], data: [0, 2, 0, 1] },
        bias: { shape: [4], data: [0, 0.5, 0, 0] },
      },
    ],
    dense: { kernel: { shape: [1, 1], data: [2] }, bias: { shape: [1], data: [-1] } },
  });

  it("a hand-computed Keras LSTM (gate order i, f, c, o)", () => {
    const { model } = importKeras(tiny(), "tiny.json");
    const r = run(model, [1, -0.5], 2, 1);
    // t = 0, x = 1, h = c = 0: i = σ(ln 3) = 3/4, f = σ(0.5), g = tanh(ln 2) = 3/5, o = σ(−ln 3) = 1/4.
    const c1 = 0.75 * 0.6; // f·0 + i·g = 0.45
    const h1 = 0.25 * Math.tanh(c1);
    // t = 1, x = −0.5: i = σ(−ln3/2), f = σ(2·h1 + 0.5), g = tanh(−ln2/2), o = σ(ln3/2 + h1).
    const c2 = sig(2 * h1 + 0.5) * c1 + sig(-ln3 / 2) * Math.tanh(-ln2 / 2);
    const h2 = sig(ln3 / 2 + h1) * Math.tanh(c2);
    const want = { y: [h1, h2], hN: [h2], cN: [c2], output: [2 * h1 - 1, 2 * h2 - 1] };
    for (const k of ["y", "hN", "cN", "output"] as const)
      assert.ok(scaledError(r[k], want[k]) <= 1e-6, `${k}: ${r[k]} vs ${want[k]}`);
    assert.ok(Math.abs(c1 - 0.45) < 1e-15);
  });

  it("a hand-computed bidirectional Keras LSTM (backward_layer, outputs aligned in time)", () => {
    const f = tiny();
    f.layers[0].backward_layer = {
      go_backwards: true,
      kernel: [[0, 0, 1, 0]] as unknown as KerasLstmFile["dense"]["kernel"], // nested arrays
      recurrent_kernel: { shape: [1, 4], data: [0, 0, 0, 0] },
      bias: { shape: [4], data: [0, 0, 0, 0] },
    };
    f.dense = { kernel: { shape: [2, 1], data: [2, 3] }, bias: { shape: [1], data: [-1] } };
    const { model } = importKeras(f, "bidi.json");
    const x = [1, -0.5];
    const r = run(model, x, 2, 1);
    const c1 = 0.75 * 0.6;
    const h1 = 0.25 * Math.tanh(c1);
    const c2 = sig(2 * h1 + 0.5) * c1 + sig(-ln3 / 2) * Math.tanh(-ln2 / 2);
    const h2 = sig(ln3 / 2 + h1) * Math.tanh(c2);
    // Reverse: every gate σ(0) = 1/2 except g = tanh(x); it reads x[1] first, then x[0].
    const rc1 = 0.5 * Math.tanh(x[1]);
    const rh1 = 0.5 * Math.tanh(rc1); // at time 1
    const rc0 = 0.5 * rc1 + 0.5 * Math.tanh(x[0]);
    const rh0 = 0.5 * Math.tanh(rc0); // at time 0
    const want = {
      y: [h1, rh0, h2, rh1],
      hN: [h2, rh0],
      cN: [c2, rc0],
      output: [2 * h1 + 3 * rh0 - 1, 2 * h2 + 3 * rh1 - 1],
    };
    for (const k of ["y", "hN", "cN", "output"] as const)
      assert.ok(scaledError(r[k], want[k]) <= 1e-6, `${k}: ${r[k]} vs ${want[k]}`);
  });

  it("reads nested arrays like {shape, data}, and an [8H] CuDNNLSTM bias as bias_ih | bias_hh", () => {
    const f = tiny();
    const nested = tiny();
    nested.layers[0].kernel = [[ln3, 0, ln2, -ln3]] as never;
    nested.dense.kernel = [[2]] as never;
    assertSameParams(importKeras(nested, "n").model, importKeras(f, "f").model);
    f.layers[0].bias = { shape: [8], data: [1, 2, 3, 4, 5, 6, 7, 8] };
    const { model, report } = importKeras(f, "cudnn");
    assert.deepEqual(Array.from(model.param("lstm.bias_ih_l0")), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(model.param("lstm.bias_hh_l0")), [5, 6, 7, 8]);
    assert.match(report.notes.join(), /CuDNNLSTM/);
  });

  it("rejects bad input with the offending field named", () => {
    // The edits reach deep into untyped JSON.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const bad = (edit: (f: Record<string, any>) => void, re: RegExp) => {
      const f = JSON.parse(JSON.stringify(exportKeras(randomModel(BIDI, 14))));
      edit(f);
      assert.throws(
        () => importKeras(f, "k.json"),
        (e: Error) => {
          assert.ok(e instanceof FormatError, `${e.name}: ${e.message}`);
          assert.match(e.message, re);
          return true;
        },
      );
    };
    bad((f) => delete f.format, /k.json: not a keras-lstm file \(format missing/);
    bad((f) => (f.format_version = 2), /format_version 2 is not supported/);
    bad((f) => (f.layers = []), /k\.json: layers: expected a non-empty list of LSTM layers, got \[\]/);
    bad((f) => (f.layers[0].recurrent_kernel.shape = [4, 15]), /layers\[0\].recurrent_kernel: data has 64 values but shape \[4, 15\] needs 60/);
    bad((f) => (f.layers[0].recurrent_kernel = { shape: [5, 12], data: new Array(60).fill(0) }), /layers\[0\].recurrent_kernel has shape \[5, 12\], expected \[H, 4H\]/);
    bad((f) => (f.layers[1].kernel = { shape: [4, 16], data: new Array(64).fill(0) }), /layers\[1\].kernel has shape \[4, 16\], expected \[8, 16\] \(\[D·H, 4H\]/);
    bad((f) => (f.layers[1].backward_layer.recurrent_kernel.data[5] = null), /layers\[1\].backward_layer.recurrent_kernel: element 5 is null, expected a finite number/);
    bad((f) => (f.layers[0].backward_layer.bias.shape = [4, 4]), /layers\[0\].backward_layer.bias has shape \[4, 4\], expected \[16\]/);
    bad((f) => delete f.layers[0].bias, /layers\[0\].bias is missing \(set "use_bias": false/);
    bad((f) => (f.layers[0].recurrent_activation = "hard_sigmoid"), /recurrent_activation is "hard_sigmoid": only "sigmoid" is supported/);
    bad((f) => (f.layers[1].backward_layer.recurrentActivation = "hardSigmoid"), /layers\[1\].backward_layer.recurrent_activation is "hardSigmoid".*TensorFlow.js/);
    bad((f) => (f.layers[0].activation = "relu"), /layers\[0\].activation is "relu"/);
    bad((f) => (f.layers[0].go_backwards = true), /layers\[0\].go_backwards is true/);
    bad((f) => (f.layers[0].backward_layer.go_backwards = false), /backward_layer.go_backwards is false/);
    bad((f) => delete f.layers[1].backward_layer, /layers\[1\] has no backward_layer but layers\[0\] does/);
    bad((f) => (f.layers[0].merge_mode = "sum"), /merge_mode is "sum": only "concat"/);
    bad((f) => (f.layers[0].return_sequences = false), /every layer but the last must return sequences/);
    bad((f) => (f.layers[0].units = 5), /layers\[0\].units is 5, expected 4/);
    bad((f) => (f.dense.kernel = { shape: [4, 2], data: new Array(8).fill(0) }), /dense.kernel has shape \[4, 2\], expected \[8, O\]/);
    bad((f) => (f.dense.activation = "softmax"), /dense.activation is "softmax"/);
    bad((f) => (f.dense.bias = [1, 2, 3]), /dense.bias has shape \[3\], expected \[2\]/);
    bad((f) => delete f.dense, /k\.json: dense: missing/);
    bad((f) => (f.layers[0].use_bias = "yes"), /k\.json: layers\[0\]\.use_bias: expected boolean, got "yes"/);
    bad((f) => (f.layers[0].kernel = [[1, 2], [3]]), /layers\[0\].kernel: nested arrays are not rectangular/);
    bad((f) => (f.layers[0].kernel = [[1, 2], [3, 4, 5], [6]]), /nested arrays are not rectangular/);
    bad((f) => (f.layers[0].kernel.dtype = "float16"), /dtype "float16" is not supported/);
    bad((f) => (f.dense.bias.data[0] = 1e300), /overflows float32 in head.bias/);
    assert.throws(() => importKeras([1], "arr.json"), /arr.json: expected a JSON object/);
  }); // prettier-ignore

  it("carries task, vocabulary and series metadata through export and import", () => {
    const m = randomModel({ inputSize: 3, hiddenSize: 2, outputSize: 3 }, 15);
    const meta: ModelMeta = { task: "text", input: { kind: "one-hot" }, vocab: ["a", "b", "é"] };
    const { meta: carried } = importKeras(JSON.parse(JSON.stringify(exportKeras(m, meta))), "k");
    assert.deepEqual(buildMeta(m.config, { base: carried }, "k"), meta);
  });
});

// ------------------------------------------------------------------------------------------------
// Metadata and helpers

describe("buildMeta", () => {
  const cfg = new LstmModel({ inputSize: 3, hiddenSize: 2, outputSize: 4 }).config;
  const series = {
    columns: ["a", "b", "c"],
    targetColumns: ["a", "c"],
    horizon: 2,
    seqLen: 12,
    scaler: { mean: [0, 1, 2], std: [1, 2, 3] },
  };

  it("infers the task: text with a vocabulary, series with series metadata, else generic", () => {
    assert.deepEqual(buildMeta(cfg, { vocab: ["x", "y", "z"] }, "v"), {
      task: "text",
      input: { kind: "one-hot" },
      vocab: ["x", "y", "z"],
    });
    assert.deepEqual(buildMeta(cfg, {}, "s"), { task: "generic", input: { kind: "dense" } });
    const s = buildMeta(cfg, { series, training: { convertedFrom: "pytorch" } }, "s");
    assert.equal(s.task, "series");
    assert.deepEqual(s.input, { kind: "dense" });
    assert.deepEqual(s.series, series);
    assert.deepEqual(s.training, { convertedFrom: "pytorch" });
  });

  it("rejects metadata the model does not fit", () => {
    assert.throws(
      () => buildMeta(cfg, { vocab: ["x", "y"] }, "v"),
      /vocab: has 2 characters but the model's input_size is 3 \(one-hot input: I = V\)/,
    );
    assert.throws(() => buildMeta(cfg, { task: "text" }, "v"), /needs a vocabulary \(--vocab/);
    assert.throws(() => buildMeta(cfg, { task: "series" }, "v"), /needs series metadata/);
    assert.throws(() => buildMeta(cfg, { task: "generic", vocab: ["x", "y", "z"] }, "v"), /only for text models/);
    assert.throws(() => buildMeta(cfg, { series: { ...series, horizon: 3 } }, "s.json"), /s.json: series\.horizon: horizon 3 × 2 target columns = 6, but the model's output_size is 4/);
    assert.throws(() => buildMeta(cfg, { series: { ...series, columns: ["a", "b"] } }, "s"), /2 columns but the model's input_size is 3/);
    assert.throws(() => buildMeta(cfg, { series: { ...series, targetColumns: ["d", "a"] } }, "s"), /series\.targetColumns: "d" is not one of the columns/);
    assert.throws(() => buildMeta(cfg, { series: { ...series, scaler: { mean: [0, 0, 0], std: [1, 0, 1] } } }, "s"), /series\.scaler\.std\[1\]: expected a number > 0, got 0/);
    assert.throws(() => buildMeta(cfg, { series: { ...series, scaler: undefined } }, "s"), /s: series\.scaler: missing/);
    assert.throws(() => buildMeta(cfg, { series: { ...series, seqLen: undefined } }, "s"), /s: series\.seqLen: missing/);
    assert.throws(() => buildMeta(cfg, { series: { ...series, transform: "sqrt" } }, "s"), /s: series\.transform: expected one of "none", "log", got "sqrt"/);
  }); // prettier-ignore

  it("parseVocab: an array of distinct single characters, or a string", () => {
    assert.deepEqual(parseVocab("ab😀", "v"), ["a", "b", "😀"]);
    assert.throws(
      () => parseVocab(["a", "bc"], "v.json"),
      /v.json: vocabulary entry 1 is "bc", expected one character/,
    );
    assert.throws(() => parseVocab(["a", "b", "a"], "v"), /entries 0 and 2 are both "a"/);
    assert.throws(() => parseVocab({}, "v"), /non-empty JSON array/);
  });

  it("checkConverted passes a loadable model and sniffFormat tells the inputs apart", () => {
    const m = randomModel(UNI, 16);
    const meta = buildMeta(m.config, {}, "x");
    checkConverted(m, meta, "out.safetensors");
    assert.throws(
      () => checkConverted(m, { ...meta, task: "text" }, "out.safetensors"),
      /out.safetensors: the converted model would not load: .*a text model needs a vocab/,
    );
    assert.equal(sniffFormat(encodeModel(m, meta)), "lstm");
    assert.equal(sniffFormat(st(stateDict(m))), "pytorch");
    assert.equal(sniffFormat(new TextEncoder().encode(' \n{"format": "keras-lstm"}')), "keras");
    assert.equal(sniffFormat(new TextEncoder().encode("hello")), null);
    assert.equal(sniffFormat(new Uint8Array(0)), null);
  });
});

describe("Keras and TF.js export of models they cannot hold", () => {
  it("refuses what each format cannot hold by name (keras-lstm: embedding, tied head; both: projections)", () => {
    const emb = new LstmModel({
      inputSize: 4,
      hiddenSize: 4,
      outputSize: 5,
      embedding: { numEmbeddings: 5, paddingIdx: null },
      tiedHead: true,
    });
    assert.throws(() => exportKeras(emb), /embedding table \(embedding\.weight\), a head tied/);
    // TF.js Layers JSON holds an Embedding and writes a tied head untied (tfjs.test.ts).
    assert.doesNotThrow(() => exportTfjs(emb));
    const proj = new LstmModel({ inputSize: 2, hiddenSize: 4, projSize: 2, outputSize: 1 });
    assert.throws(() => exportKeras(proj), /LSTM projections \(proj_size 2/);
    assert.throws(
      () => exportTfjs(proj),
      /TensorFlow\.js Layers JSON holds an Embedding, a recurrent stack .*proj_size 2; Keras's LSTM has no projection/,
    );
  });
});

describe("buildMeta for a classifier", () => {
  it("keeps the base's classifier metadata, and refuses task classify without it", () => {
    const config = new LstmModel({
      inputSize: 2,
      hiddenSize: 3,
      outputSize: 2,
      embedding: { numEmbeddings: 3, paddingIdx: 0 },
    }).config;
    const classifier = {
      kind: "chars" as const,
      textColumn: "t",
      labelColumn: "l",
      classes: ["a", "b"],
      vocab: ["x", "y"],
      features: 1,
      scaler: null,
    };
    const input = { kind: "embedding" as const };
    const meta = buildMeta(config, { base: { task: "classify", input, classifier } }, "m.json");
    assert.deepEqual(meta, { task: "classify", input, classifier });
    assert.throws(
      () => buildMeta(config, { base: { task: "classify", input } }, "m.json"),
      (e: unknown) =>
        e instanceof ConfigError &&
        /a classifier needs its metadata .*--task generic/.test(e.message),
    );
  });
});

describe("buildMeta for an embedding model", () => {
  it("a vocabulary counts the embedding's rows, not input_size", () => {
    const cfg = new LstmModel({
      inputSize: 2,
      hiddenSize: 3,
      outputSize: 3,
      embedding: { numEmbeddings: 3, paddingIdx: null },
    }).config;
    assert.deepEqual(buildMeta(cfg, { vocab: ["x", "y", "z"] }, "v"), {
      task: "text",
      input: { kind: "embedding" },
      vocab: ["x", "y", "z"],
    });
    assert.throws(() => buildMeta(cfg, { vocab: ["x", "y"] }, "v"), /embedding table has 3 rows/);
  });
});

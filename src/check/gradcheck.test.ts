/**
 * Property test: on random small configurations (layers, directions, layouts, losses, state),
 * the analytic BPTT gradients equal central finite differences in float64.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { gradcheck } from "./gradcheck.js";
import { registerBackend, referenceKernels, type Kernels } from "../backend/index.js";
import { LOSS_KINDS } from "../loss/losses.js";
import { Rng } from "../tensor/rng.js";

const TOL = 1e-5;

/** A small random configuration: sizes, layout, loss (cycling with trial) and state from rng. */
function randomOptions(rng: Rng, trial: number, seed: number) {
  return {
    inputSize: 1 + rng.int(4),
    hiddenSize: 1 + rng.int(5),
    numLayers: 1 + rng.int(3),
    bidirectional: rng.uniform() < 0.5,
    outputSize: 1 + rng.int(4),
    seqLen: 1 + rng.int(7),
    batch: 1 + rng.int(3),
    batchFirst: rng.uniform() < 0.5,
    loss: LOSS_KINDS[trial % LOSS_KINDS.length],
    randomState: rng.uniform() < 0.7,
    seed,
    maxPerTensor: 24,
  };
}

/** Runs gradcheck and asserts every checked gradient within TOL, naming the worst tensor. */
function checkGradients(opts: Parameters<typeof gradcheck>[0]) {
  const r = gradcheck(opts);
  const worst = Object.entries(r.tensors).sort((a, b) => b[1].maxRelError - a[1].maxRelError)[0];
  assert.ok(
    r.ok && r.maxRelError <= TOL,
    `${JSON.stringify(opts)}: worst ${worst[0]} ${r.maxRelError.toExponential(2)}`,
  );
  return r;
}

test("analytic gradients equal finite differences on 12 random configurations", () => {
  const rng = new Rng(2024);
  for (let trial = 0; trial < 12; trial++) {
    const r = checkGradients(randomOptions(rng, trial, 100 + trial));
    // Every tensor was checked, including the state and the input.
    for (const name of ["x", "h0", "c0", "head.weight", "lstm.weight_hh_l0"])
      assert.ok(r.tensors[name].checked > 0);
  }
});

test("GRU: analytic gradients equal finite differences on 8 random configurations", () => {
  const rng = new Rng(77);
  for (let trial = 0; trial < 8; trial++) {
    const r = checkGradients({ cell: "gru", ...randomOptions(rng, trial, 300 + trial) });
    for (const name of ["x", "h0", "head.weight", "gru.weight_hh_l0", "gru.bias_hh_l0"])
      assert.ok(r.tensors[name].checked > 0, name);
    assert.equal(r.tensors.c0, undefined, "a GRU has no c0");
  }
});

test("a long sequence (T = 30) still matches: the carried gradient is exact", () => {
  const r = gradcheck({ seqLen: 30, hiddenSize: 3, loss: "mse_last", maxPerTensor: 16, seed: 5 });
  assert.ok(r.ok);
  // mse_last reads only the last step: the weights' gradients sum 30 steps of carried terms
  // and must match to the full tolerance...
  for (const name of ["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_hh_l0", "x"])
    assert.ok(r.tensors[name].maxRelError <= TOL, `${name}: ${r.tensors[name].maxRelError}`);
  // ...while h0's influence has vanished below what a finite difference can resolve.
  assert.ok(r.tensors.h0.maxAbsError <= r.noiseFloor);
});

test("gradcheck fails when backward drops the cell-state gradient carried from t+1", () => {
  // The textbook single-step mistake, as a backend: dc_{t-1} is not carried back.
  const broken: Kernels = {
    ...referenceKernels,
    name: "test-broken-carry",
    lstmCellBackward(io, dims) {
      referenceKernels.lstmCellBackward(io, dims);
      io.dc.buf.fill(0, io.dc.off, io.dc.off + dims.B * dims.H);
    },
  };
  registerBackend(broken);
  const r = gradcheck({ seqLen: 4, backend: broken.name, seed: 3 });
  assert.ok(!r.ok && r.maxRelError > 1e-2, `expected a large error, got ${r.maxRelError}`);
  assert.ok(r.tensors["lstm.weight_hh_l0"].maxRelError > 1e-2);
});

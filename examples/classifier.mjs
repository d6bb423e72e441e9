// A sequence classifier on rows of different lengths: the class (one of 3) is shown at t = 0 as
// a one-hot input and followed by 4–19 steps of noise; the model reads each row's final state
// (the `xent_final` loss: softmax cross-entropy over the classes, PyTorch packed-sequence
// semantics). Rows of different lengths share a batch: pass each row's length, in any order;
// padded steps cost no recurrent compute and change nothing.
// `node examples/classifier.mjs [steps]`.
import { createOptimizer, initParams, LstmModel, Objective, Rng } from "lstm-ts";

const steps = Number(process.argv[2] ?? 200);
const C = 3; // classes
const I = C + 1; // the class one-hot at t = 0, then one noise channel
const T = 20; // longest row
const B = 32;
const rng = new Rng(1);

/** A batch: x [T, B, I] time-major, zero past each row's length; one class per row. */
function makeBatch(r, batch) {
  const x = new Float32Array(T * batch * I);
  const lengths = Array.from({ length: batch }, () => 5 + r.int(T - 4));
  const targets = Array.from({ length: batch }, () => r.int(C));
  for (let b = 0; b < batch; b++) {
    x[b * I + targets[b]] = 1;
    for (let t = 1; t < lengths[b]; t++) x[(t * batch + b) * I + C] = r.normal();
  }
  return { x, seqLen: T, batch, lengths, targets };
}

const model = new LstmModel({ inputSize: I, hiddenSize: 16, outputSize: C });
initParams(model, new Rng(1), { forgetBias: 1 });
const objective = new Objective(model, "xent_final", { inputGrad: false });
const adam = createOptimizer({ kind: "adam", lr: 0.01 }, model.numParams, model.dtype);
let loss = 0;
for (let s = 0; s < steps; s++) {
  model.zeroGrad();
  loss = objective.run(makeBatch(rng, B)).loss;
  adam.step(model.params, model.grads);
}

// Accuracy on fresh rows the model never saw: the class of the largest logit of each row.
const test = makeBatch(new Rng(12345), 256);
const { output } = model.forward(test.x, { ...test, readout: "final" }); // [256, C]
let correct = 0;
for (let b = 0; b < test.batch; b++) {
  const row = Array.from(output.subarray(b * C, (b + 1) * C));
  if (row.indexOf(Math.max(...row)) === test.targets[b]) correct++;
}
console.log(
  `${steps} steps, last training loss ${loss.toFixed(4)} (guessing: ${Math.log(C).toFixed(4)})`,
);
console.log(
  `accuracy on ${test.batch} new sequences: ${((100 * correct) / test.batch).toFixed(1)}%`,
);

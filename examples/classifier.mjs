// A sequence classifier, as far as the engine goes today: lstm-ts has no classification loss
// over whole sequences yet (softmax cross-entropy is per time step, for character models), so
// this trains the two-class "bit recall" task as regression on ±1 with a mean squared error on
// the last step, and classifies by the sign of the output. The class is shown at t = 0 and
// followed by noise: the gradient must carry it back over every step.
// `node examples/classifier.mjs [steps]`.
import { bitRecallTask, initParams, LstmModel, Rng, Trainer } from "lstm-ts";

const steps = Number(process.argv[2] ?? 200);
const T = 20;
const task = bitRecallTask({ seqLen: T, batch: 32, validSize: 256 });
const model = new LstmModel({ inputSize: 2, hiddenSize: 16, outputSize: 1 });
initParams(model, new Rng(1), { forgetBias: 1 });
const summary = await new Trainer(model, task, {
  optimizer: { kind: "adam", lr: 0.01 },
  clipNorm: 1,
  steps,
  evalEvery: 50,
  seed: 1,
}).run();

// Accuracy on fresh sequences the model never saw.
const batch = task.nextBatch(new Rng(12345));
const { output } = model.forward(batch.x, { seqLen: T, batch: batch.batch, readout: "last" });
let correct = 0;
for (let b = 0; b < batch.batch; b++)
  if (Math.sign(output[b]) === Math.sign(batch.targets[b])) correct++;
console.log(
  `${summary.steps} steps, validation MSE ${summary.bestValidLoss?.toFixed(4)} (guessing: 1)`,
);
console.log(
  `accuracy on ${batch.batch} new sequences: ${((100 * correct) / batch.batch).toFixed(1)}%`,
);

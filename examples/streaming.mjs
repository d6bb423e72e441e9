// Streaming inference: a StreamSession runs a model a step (or a few steps) at a time on any
// number of streams, carrying the state (h, c) from call to call, as a live feed or a text
// generator does. Its outputs equal those of the whole sequence in one call, bit for bit.
// `node examples/streaming.mjs`.
import { LstmModel, Rng, StreamSession } from "lstm-ts";

const I = 3;
const T = 50;
const R = 4; // streams
const model = new LstmModel({ inputSize: I, hiddenSize: 32, numLayers: 2, outputSize: 1 });
model.initDefault(new Rng(7));
const rng = new Rng(1);
const x = Float32Array.from({ length: T * R * I }, () => rng.normal()); // [T, R, I]

// The whole sequence at once: outputs [T, R, 1]; copy, the result is a view into a workspace.
const whole = model.forward(x, { seqLen: T, batch: R }).output.slice();

// The same inputs streamed: one step per call for the first 20 steps, then 3 at a time.
const session = new StreamSession(model, { rows: R });
let maxDiff = 0;
for (let t = 0; t < T;) {
  const steps = t < 20 ? 1 : Math.min(3, T - t);
  const out = session.step(x.subarray(t * R * I, (t + steps) * R * I), steps); // [steps, R, 1]
  for (let i = 0; i < steps * R; i++)
    maxDiff = Math.max(maxDiff, Math.abs(out[i] - whole[t * R + i]));
  t += steps;
}
console.log(`${T} steps of ${R} streams; largest difference from the whole sequence: ${maxDiff}`);

// Stream 2 starts over (its state zeroed); the others carry on. The state can be saved and restored.
const saved = session.getState();
session.reset([2]);
session.setState(saved);
console.log(`state: h and c of ${saved.h.length} numbers each ([L, R, H])`);

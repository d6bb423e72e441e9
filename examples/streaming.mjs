// Streaming inference: one time step per call, the state (h, c) carried from call to call, as a
// live feed or a text generator runs. The outputs equal those of the whole sequence in one call.
// `node examples/streaming.mjs`.
import { LstmModel, Rng } from "lstm-ts";

const I = 3;
const T = 50;
const model = new LstmModel({ inputSize: I, hiddenSize: 32, numLayers: 2, outputSize: 1 });
model.initDefault(new Rng(7));
const rng = new Rng(1);
const x = Float32Array.from({ length: T * I }, () => rng.normal()); // [T, 1, I]

// The whole sequence at once: outputs [T, 1, 1]; copy, the result is a view into a workspace.
const whole = model.forward(x, { seqLen: T, batch: 1 }).output.slice();

// One step at a time, carrying h and c ([L, 1, H] each).
let h;
let c;
let maxDiff = 0;
for (let t = 0; t < T; t++) {
  const step = model.forward(x.subarray(t * I, (t + 1) * I), {
    seqLen: 1,
    batch: 1,
    h0: h,
    c0: c,
    checkParams: t === 0, // the weights do not change between steps
  });
  maxDiff = Math.max(maxDiff, Math.abs(step.output[0] - whole[t]));
  h = step.hN.slice();
  c = step.cN.slice();
}
console.log(
  `${T} steps streamed one at a time; largest difference from the whole sequence: ${maxDiff}`,
);

import assert from "node:assert/strict";
import { test } from "node:test";
import { ProgressReporter } from "./train-progress.js";

function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  let out = "";
  const stream = { isTTY: false, write: (s: string) => ((out += s), true) };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => out };
}

test("the progress reporter is a listener: plain lines off a terminal, the budget from the trainer", () => {
  const s = sink();
  const evals: number[] = [];
  const p = new ProgressReporter({
    lossName: "nats/char",
    budget: { totalSteps: 40, seconds: 9 },
    onEval: (e) => evals.push(e.step),
    stream: s.stream,
  });
  p.listener({ type: "start", step: 0, totalSteps: 40, stepsPerEpoch: 10, numParams: 123 });
  p.listener({ type: "step", step: 1, epoch: 0.1, loss: 2, lr: 0.1, gradNorm: 1, elapsedMs: 5, throughput: 1000 }); // prettier-ignore
  p.listener({ type: "eval", step: 10, epoch: 1, trainLoss: 1.5, validLoss: 1.25, best: true });
  p.listener({ type: "nonfinite", step: 11, what: "loss", action: "skipped", lrFactor: 1, message: "non-finite loss" }); // prettier-ignore
  p.log("checkpoint: x.ckpt");
  assert.equal(
    s.text(),
    "training 123 parameters, 10 steps per epoch, 40 steps, at most 9s\n" +
      "step 10 (epoch 1.00): train nats/char 1.5000, valid 1.2500 (best)\n" +
      "warning: non-finite loss\n" +
      "checkpoint: x.ckpt\n",
  );
  assert.deepEqual(evals, [10]);
});

test("--quiet prints nothing, evaluations still reach onEval", () => {
  const s = sink();
  const evals: number[] = [];
  const p = new ProgressReporter({ quiet: true, lossName: "MSE", budget: { totalSteps: null, seconds: 5 }, onEval: (e) => evals.push(e.step), stream: s.stream }); // prettier-ignore
  p.listener({ type: "start", step: 0, totalSteps: null, stepsPerEpoch: 3, numParams: 9 });
  p.listener({ type: "eval", step: 3, epoch: 1, trainLoss: 1, validLoss: null, best: false });
  p.log("x");
  assert.equal(s.text(), "");
  assert.deepEqual(evals, [3]);
  assert.equal(p.verbose, false);
});

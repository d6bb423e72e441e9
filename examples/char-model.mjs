// A character language model on the opening of Pride and Prejudice, with the library API:
// vocabulary, text task (B streams, windows of T characters, the state carried between
// windows), Trainer with Adam, then a sample. `node examples/char-model.mjs [steps]`.
import { readFileSync } from "node:fs";
import {
  initParams,
  LstmModel,
  Rng,
  sampleText,
  splitTrainValid,
  TextTask,
  Trainer,
  Vocab,
} from "lstm-ts";

const steps = Number(process.argv[2] ?? 100);
const book = readFileSync(
  new URL("../data/austen_pride_and_prejudice.txt", import.meta.url),
  "utf8",
);
const text = book.slice(book.indexOf("It is a truth"), book.indexOf("It is a truth") + 20_000);

const vocab = Vocab.fromText(text);
const { train, valid } = splitTrainValid(vocab.encode(text), 0.1);
const V = vocab.size;
const model = new LstmModel({ inputSize: V, hiddenSize: 64, outputSize: V });
initParams(model, new Rng(1), { forgetBias: 1 });
const task = new TextTask(model, train, valid, { batch: 16, seqLen: 32 });
const trainer = new Trainer(model, task, {
  optimizer: { kind: "adam", lr: 0.01 },
  clipNorm: 5,
  steps,
  evalEvery: Math.max(1, Math.floor(steps / 4)),
  seed: 1,
});
trainer.on((e) => {
  if (e.type === "eval")
    console.log(
      `step ${e.step}: train ${e.trainLoss.toFixed(3)}, validation ${e.validLoss.toFixed(3)} nats/char`,
    );
});
const summary = await trainer.run();
console.log(`vocabulary ${V}, ${model.numParams} parameters, ${summary.steps} steps`);
const prime = "It is a truth";
console.log(
  prime + sampleText(model, vocab, { prime, length: 200, temperature: 0.6, rng: new Rng(2) }),
);

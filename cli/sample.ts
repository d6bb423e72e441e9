/** `lstm sample MODEL`: generate text one character at a time, streamed as it is drawn. */
import type { Command } from "commander";
import { Vocab } from "../src/data/text.js";
import { sampleText } from "../src/train/sample.js";
import { Rng } from "../src/tensor/rng.js";
import { loadModel } from "../src/node.js";
import { CliError, floatOption, intOption } from "./util.js";

interface Flags {
  prime?: string;
  length: number;
  temperature: number;
  topK: number;
  seed?: number;
}

export function registerSample(program: Command): void {
  program
    .command("sample")
    .summary("generate text from a character model")
    .argument("<model>", "model file from train-text")
    .option("--prime <text>", "text to start from (sets the state; printed first)")
    .option("--length <n>", "characters to generate", intOption("--length", 0, 10_000_000), 500)
    .option(
      "--temperature <x>",
      "softmax temperature (0 = always the most likely character)",
      floatOption("--temperature", 0, 100),
      0.8,
    )
    .option(
      "--top-k <k>",
      "sample among the k most likely characters (0 = all)",
      intOption("--top-k", 0),
      0,
    )
    .option("--seed <n>", "random seed (default: different every run)", intOption("--seed", 0))
    .action((path: string, f: Flags) => {
      const { model, meta } = loadModel(path);
      if (meta.task !== "text" || !meta.vocab)
        throw new CliError(
          `${path} is a ${meta.task} model; sample needs a character model from train-text`,
        );
      const vocab = Vocab.fromJSON(meta.vocab, path);
      const seed = f.seed ?? Math.floor(Math.random() * 2 ** 31);
      const prime = f.prime ?? "";
      vocab.encode(prime, { source: "--prime" }); // unseen characters: a clear error before anything prints
      process.stdout.write(prime);
      sampleText(model, vocab, {
        prime,
        length: f.length,
        temperature: f.temperature,
        topK: f.topK,
        rng: new Rng(seed),
        onChar: (ch) => process.stdout.write(ch),
      });
      process.stdout.write("\n");
    });
}

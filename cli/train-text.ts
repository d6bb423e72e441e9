/** `lstm train-text FILE`: a character-level language model on a text file. */
import type { Command } from "commander";
import { decodeText, splitTrainValid, unigramEntropy, Vocab } from "../src/data/text.js";
import { sampleText } from "../src/train/sample.js";
import { TextTask } from "../src/train/text-task.js";
import { Rng } from "../src/tensor/rng.js";
import { prepareModel, runTrainCommand } from "./train-common.js";
import { addTrainOptions, featureConfig, type TrainFlags } from "./train-flags.js";
import { blameCheckpoint } from "./train-resume.js";
import { floatOption, intOption } from "./util.js";

interface TextFlags extends TrainFlags {
  sampleEvery: number;
  sampleLength: number;
  temperature: number;
}

export function registerTrainText(program: Command): void {
  const cmd = program
    .command("train-text")
    .summary("train a character-level language model on a text file")
    .description(
      "Train a character-level LSTM language model on a UTF-8 text file (char-rnn style:\n" +
        "B contiguous streams, windows of --seq-len characters, the state carried from one\n" +
        "window to the next). The vocabulary is every character (Unicode code point) of the file.\n" +
        "The last --valid-fraction of the text is held out to measure validation loss (nats/char).",
    )
    .argument("<file>", "UTF-8 text file");
  addTrainOptions(cmd, {
    hidden: 128,
    layers: 1,
    seqLen: 64,
    batch: 32,
    lr: 0.003,
    clip: 5,
    validFraction: 0.05,
    out: "text-model.safetensors",
  })
    .option(
      "--embedding <E>",
      "an embedding table of width E instead of one-hot input",
      intOption("--embedding", 1, 65536),
    )
    .option("--tie-weights", "the head shares the embedding's weight (needs --embedding = H or P)")
    .option(
      "--sample-every <n>",
      "print a sample every n evaluations (0 = never)",
      intOption("--sample-every", 0),
      1,
    )
    .option(
      "--sample-length <n>",
      "characters per sample",
      intOption("--sample-length", 1, 100000),
      200,
    )
    .option(
      "--temperature <x>",
      "sampling temperature for the samples",
      floatOption("--temperature", 0, 10),
      0.8,
    )
    .action(async (file: string, rawFlags: TextFlags) => {
      await runTrainCommand(cmd, rawFlags, {
        task: "text",
        file,
        setup: (run) => {
          const { flags, resumed, tuned, bytes } = run;
          const text = decodeText(bytes, file);
          // A run that starts from a file keeps its vocabulary: a character outside it is an
          // error naming the character and its position.
          const start = resumed ? { meta: resumed.meta, path: flags.resume! } : tuned;
          const vocab = start
            ? Vocab.fromJSON(start.meta.vocab, start.path)
            : Vocab.fromText(text, file);
          const ids = vocab.encode(text, { source: file });
          const { train, valid } = splitTrainValid(ids, flags.validFraction);
          const V = vocab.size;
          const features = featureConfig(flags, { vocab: V, directions: 1 });
          const model = prepareModel(flags, run, { inputSize: V, outputSize: V, ...features });
          const task = blameCheckpoint(
            flags.resume,
            () => new TextTask(model, train, valid, { batch: flags.batch, seqLen: flags.seqLen }),
          );
          const baseline = unigramEntropy(train, V);
          const input = {
            kind: model.config.embedding ? ("embedding" as const) : ("one-hot" as const),
          };
          const sampleRng = new Rng(flags.seed + 1);
          let evals = 0;
          return {
            model,
            task,
            meta: { task: "text", input, vocab: vocab.toJSON() },
            describe:
              `${file}: ${ids.length} characters, vocabulary ${V}, ${train.length} for training, ${valid.length} for validation; ` +
              `unigram entropy ${baseline.toFixed(3)} nats/char`,
            lossName: "nats/char",
            onEval: () => {
              evals++;
              if (flags.sampleEvery > 0 && evals % flags.sampleEvery === 0 && !flags.quiet) {
                const s = sampleText(model, vocab, {
                  length: flags.sampleLength,
                  temperature: flags.temperature,
                  rng: sampleRng,
                });
                if (flags.json)
                  process.stdout.write(JSON.stringify({ type: "sample", text: s }) + "\n");
                else process.stderr.write(`--- sample ---\n${s}\n--------------\n`);
              }
            },
            summarize: () => ({ data: file, characters: ids.length, unigramEntropy: baseline }),
            reportData: () => ({ data: text, dataName: file }),
            next: (out) => [
              `npx lstm sample ${out} --prime "The " --length 400`,
              `npx lstm info ${out}`,
              ...(flags.checkpoint
                ? [
                    `npx lstm train-text ${file} --resume ${flags.checkpoint} --time 300   (train longer)`,
                  ]
                : []),
            ],
          };
        },
      });
    });
}

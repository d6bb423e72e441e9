/** `lstm info MODEL`: what a model file holds. */
import type { Command } from "commander";
import { loadModel, paramsSha256 } from "../src/node.js";

export function registerInfo(program: Command): void {
  program
    .command("info")
    .summary("show a model's configuration, size, training summary and parameter digest")
    .argument("<model>", "model file (.safetensors) or checkpoint")
    .option("--json", "print one JSON object")
    .action((path: string, flags: { json?: boolean }) => {
      const { model, meta } = loadModel(path);
      const c = model.config;
      const training = meta.training ? { ...meta.training } : null;
      if (training) delete training.history;
      const info = {
        file: path,
        task: meta.task,
        config: { ...c, numDirections: c.bidirectional ? 2 : 1 },
        input: meta.input,
        vocabSize: meta.vocab?.length ?? null,
        series: meta.series ?? null,
        numParams: model.numParams,
        paramOrder: model.paramNames(),
        paramsSha256: paramsSha256(model),
        training,
      };
      if (flags.json) {
        console.log(JSON.stringify(info));
        return;
      }
      console.log(`${path}: ${meta.task} model`);
      console.log(
        `  ${c.cell.toUpperCase()}: input ${c.inputSize}, hidden ${c.hiddenSize}, layers ${c.numLayers}, ${c.bidirectional ? "bidirectional" : "unidirectional"}; head outputs ${c.outputSize}`,
      );
      if (meta.vocab)
        console.log(
          `  vocabulary: ${meta.vocab.length} characters (${c.embedding ? `embedding [${c.embedding.numEmbeddings}, ${c.inputSize}]` : "one-hot input"})`,
        );
      const extras = [
        c.projSize ? `projection P=${c.projSize}` : "",
        c.tiedHead ? "head tied to the embedding" : "",
        c.embedding && c.embedding.paddingIdx !== null
          ? `padding_idx ${c.embedding.paddingIdx}`
          : "",
        c.dropout
          ? `dropout (training only): input ${c.dropout.input}, between layers ${c.dropout.betweenLayers}, output ${c.dropout.output}`
          : "",
      ].filter((e) => e !== "");
      if (extras.length > 0) console.log(`  ${extras.join("; ")}`);
      if (meta.series)
        console.log(
          `  series: ${JSON.stringify({ columns: meta.series.columns, horizon: meta.series.horizon, seqLen: meta.series.seqLen })}`,
        );
      console.log(`  parameters: ${model.numParams}`);
      for (const n of model.paramNames())
        console.log(`    ${n.padEnd(30)} [${model.paramShape(n).join(", ")}]`);
      console.log(`  paramsSha256: ${info.paramsSha256}`);
      if (training)
        console.log(`  training: ${JSON.stringify({ ...training, options: undefined })}`);
    });
}

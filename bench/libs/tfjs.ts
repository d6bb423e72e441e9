/**
 * TensorFlow.js (pure JavaScript "cpu" backend or the WebAssembly "wasm" backend; not tfjs-node).
 * Training: tf.layers.lstm (returnSequences, sigmoid gates as in PyTorch) and a timeDistributed
 * dense layer back to the input size, MSE against random targets, Adam lr 1e-3, one
 * `model.trainOnBatch` per step. Inference: a stateful LSTM on [1, 1, I] batches, one
 * `model.predict` per step, its output read back and fed in as the next input. GRU rows:
 * tf.layers.gru at the same sizes (TF.js computes only the reset_after=false form: the reset
 * gate before the recurrent product, the same number of operations as PyTorch's).
 */
import path from "node:path";
import type * as TfModule from "@tensorflow/tfjs";
import type * as TfWasmModule from "@tensorflow/tfjs-backend-wasm";
import { benchRequire } from "../deps.js";
import type { Library, Runner } from "../harness.js";
import { randn } from "../harness.js";
import type { Workload } from "../../cli/workloads.js";

const tf = benchRequire("@tensorflow/tfjs") as typeof TfModule;

export async function load(backend: "cpu" | "wasm"): Promise<Library> {
  let version = tf.version.tfjs;
  let note: string | undefined;
  if (backend === "wasm") {
    const wasm = benchRequire("@tensorflow/tfjs-backend-wasm") as typeof TfWasmModule;
    // The .wasm files ship in the npm package; point the loader at them.
    const pkg = benchRequire.resolve("@tensorflow/tfjs-backend-wasm/package.json");
    wasm.setWasmPaths(path.join(path.dirname(pkg), "dist") + path.sep);
    version = wasm.version_wasm;
  }
  if (!(await tf.setBackend(backend)))
    throw new Error(`tfjs backend ${backend} did not initialise`);
  await tf.ready();
  if (backend === "wasm") {
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    note = `wasm ${simd ? "SIMD" : "no SIMD"}, ${threads ? "multi-threaded" : "one thread"}`;
  }
  return { library: `tfjs-${backend}`, version, note, setup };
}

function setup(w: Workload, cell: "lstm" | "gru"): Runner {
  const { batch: B, seqLen: T, input: I, hidden: H } = w;
  // PyTorch's initialisation (also avoids tfjs's slow orthogonal init of the recurrent kernel).
  const k = 1 / Math.sqrt(H);
  const init = () => tf.initializers.randomUniform({ minval: -k, maxval: k });
  const lstm = {
    units: H,
    recurrentActivation: "sigmoid" as const,
    kernelInitializer: init(),
    recurrentInitializer: init(),
    biasInitializer: init(),
  };
  const layer = cell === "gru" ? tf.layers.gru : tf.layers.lstm;
  const model = tf.sequential();
  if (w.kind === "train") {
    model.add(layer({ ...lstm, returnSequences: true, inputShape: [T, I] }));
    model.add(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: I }) }));
    model.compile({ optimizer: tf.train.adam(1e-3), loss: "meanSquaredError" });
    const x = tf.tensor3d(randn(B * T * I), [B, T, I]);
    const y = tf.tensor3d(randn(B * T * I), [B, T, I]);
    return { kind: "train", step: () => model.trainOnBatch(x, y) };
  }
  model.add(layer({ ...lstm, stateful: true, batchInputShape: [1, 1, I] }));
  model.add(tf.layers.dense({ units: I }));
  let x = randn(I);
  return {
    kind: "infer",
    steps: (n: number) => {
      for (let i = 0; i < n; i++) {
        const out = tf.tidy(
          () => model.predict(tf.tensor3d(x, [1, 1, I])) as ReturnType<typeof tf.tensor3d>,
        );
        x = Float32Array.from(out.dataSync()); // the head maps back to the input size: feed it in
        out.dispose();
      }
    },
    note: `stateful tf.layers.${cell}, one model.predict per step`,
  };
}

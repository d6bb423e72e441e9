/**
 * brain.js: recurrent.LSTMTimeStep with one hidden layer of H units and brain's own output
 * layer back to the input size. It trains on one sequence at a time (`trainPattern`: predict
 * each next vector, squared-error deltas, BPTT, then its fixed RMSProp-style update with
 * clipping — no Adam option), so a step of batch B trains B sequences of T + 1 vectors (T
 * predictions each) one after another, B weight updates. Inference: `forecast` runs n steps in
 * one call, feeding each output back in; there is no call that runs one step and keeps the state
 * for the next call. GRU rows: recurrent.GRUTimeStep, the same way.
 */
import type * as BrainModule from "brain.js";
import { benchRequire } from "../deps.js";
import type { Library, Runner } from "../harness.js";
import { randn } from "../harness.js";
import type { Workload } from "../../cli/workloads.js";

/** The part of LSTMTimeStep this benchmark uses. */
interface TimeStepNet {
  initialize(): void;
  trainPattern(input: Float32Array[], logErrorRate?: boolean): number;
  forecast(input: Float32Array[], count: number): Float32Array[];
}
type TimeStepCtor = new (options: {
  inputSize: number;
  hiddenLayers: number[];
  outputSize: number;
  learningRate: number;
}) => TimeStepNet;

export async function load(): Promise<Library> {
  const brain = benchRequire("brain.js") as typeof BrainModule;
  const LSTMTimeStep = brain.recurrent.LSTMTimeStep as unknown as TimeStepCtor;
  const GRUTimeStep = brain.recurrent.GRUTimeStep as unknown as TimeStepCtor;
  const { version } = benchRequire("brain.js/package.json") as {
    version: string;
  };
  const setup = (w: Workload, cell: "lstm" | "gru"): Runner => {
    const { batch: B, seqLen: T, input: I, hidden: H } = w;
    const Net = cell === "gru" ? GRUTimeStep : LSTMTimeStep;
    const net = new Net({
      inputSize: I,
      hiddenLayers: [H],
      outputSize: I,
      learningRate: 1e-3,
    });
    net.initialize();
    if (w.kind === "train") {
      const seqs = Array.from({ length: B }, () => Array.from({ length: T + 1 }, () => randn(I)));
      return {
        kind: "train",
        step: () => {
          for (const s of seqs) net.trainPattern(s);
        },
        note:
          (B > 1 ? `${B} sequences one after another, an update after each; ` : "") +
          "brain's RMSProp-style update (its recurrent nets have no Adam)",
      };
    }
    net.trainPattern([randn(I), randn(I)]); // binds the step equations forecast() needs
    const x = [randn(I)];
    return {
      kind: "infer",
      steps: (n: number) => net.forecast(x, n),
      note: "forecast(): n steps per call, state carried within the call only (no single-step API)",
    };
  };
  return { library: "brain.js", version, setup };
}

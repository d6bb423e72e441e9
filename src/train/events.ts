/** Why a training run stopped. */
export type StopReason = "steps" | "epochs" | "time" | "early-stopping" | "interrupted";

/** What the trainer reports while it runs. A CLI draws progress from these; so can a web page. */
export type TrainEvent =
  | {
      type: "start";
      step: number;
      totalSteps: number | null;
      stepsPerEpoch: number;
      numParams: number;
    }
  | {
      type: "step";
      step: number; // steps completed so far (1-based after the first update)
      epoch: number; // fractional epochs completed
      loss: number;
      lr: number;
      gradNorm: number;
      elapsedMs: number;
      /** Training samples per second (time steps × batch for text). */
      throughput: number;
    }
  | {
      type: "eval";
      step: number;
      epoch: number;
      trainLoss: number;
      validLoss: number | null;
      best: boolean;
    }
  | { type: "epoch"; epoch: number; step: number }
  | {
      type: "nonfinite";
      step: number;
      what: "loss" | "gradient" | "params";
      action: "skipped" | "rolled-back";
      lrFactor: number;
      message: string;
    }
  | { type: "checkpoint"; step: number }
  | {
      type: "stop";
      reason: StopReason;
      step: number;
      bestValidLoss: number | null;
      bestStep: number | null;
      restoredBest: boolean;
    };

/** Receives every TrainEvent (`Trainer.on`). */
export type TrainListener = (e: TrainEvent) => void;

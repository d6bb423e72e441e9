/**
 * Training progress as a listener of the trainer's events: a progress bar on a terminal, plain
 * lines otherwise, one JSON object per event with --json, nothing with --quiet. It knows nothing
 * of checkpoints or files; the run reports those through `log`.
 */
import cliProgress from "cli-progress";
import type { TrainEvent, TrainListener } from "../src/train/events.js";

export interface ProgressOptions {
  json?: boolean;
  quiet?: boolean;
  /** Unit of the loss for messages (e.g. "nats/char"). */
  lossName: string;
  /** The trainer's budget (`Trainer.budget`). */
  budget: { totalSteps: number | null; seconds: number | null };
  /** Extra output after each evaluation (e.g. a text sample). */
  onEval?: (e: Extract<TrainEvent, { type: "eval" }>) => void;
  stream?: NodeJS.WriteStream;
}

type Payload = { loss: string; valid: string; speed: string };

export class ProgressReporter {
  /** Pass to `Trainer.on`. */
  readonly listener: TrainListener = (e) => this.handle(e);
  private readonly out: NodeJS.WriteStream;
  private bar: cliProgress.SingleBar | null = null;
  private barValue = 0;
  private payload: Payload = { loss: "-", valid: "-", speed: "-" };
  private emaLoss: number | null = null;

  constructor(private readonly o: ProgressOptions) {
    this.out = o.stream ?? process.stderr;
  }

  /** Whether human-readable lines are printed (not --quiet, not --json). */
  get verbose(): boolean {
    return !this.o.quiet && !this.o.json;
  }

  /** A line for the user, printed above the progress bar. */
  log(line: string): void {
    if (!this.verbose) return;
    if (this.bar) {
      const total = this.bar.getTotal();
      this.bar.stop();
      this.out.write(line + "\n");
      this.bar.start(total, this.barValue, this.payload);
    } else this.out.write(line + "\n");
  }

  /** Removes the bar (also when the run failed). */
  close(): void {
    this.bar?.stop();
    this.bar = null;
  }

  private handle(e: TrainEvent): void {
    if (this.o.json) {
      process.stdout.write(JSON.stringify(e) + "\n");
      if (e.type === "eval") this.o.onEval?.(e);
      return;
    }
    switch (e.type) {
      case "start":
        return this.start(e);
      case "step":
        return this.step(e);
      case "eval": {
        const v = e.validLoss;
        this.payload = { ...this.payload, valid: v === null ? "-" : v.toFixed(4) };
        this.log(
          `step ${e.step} (epoch ${e.epoch.toFixed(2)}): train ${this.o.lossName} ${e.trainLoss.toFixed(4)}, valid ${v === null ? "-" : v.toFixed(4)}${e.best ? " (best)" : ""}`,
        );
        this.o.onEval?.(e);
        return;
      }
      case "nonfinite":
        return this.log(`warning: ${e.message}`);
      case "stop":
        return this.close();
    }
  }

  private start(e: Extract<TrainEvent, { type: "start" }>): void {
    const { totalSteps, seconds } = this.o.budget;
    if (this.verbose && this.out.isTTY === true) {
      const timeBudget = totalSteps === null;
      this.bar = new cliProgress.SingleBar(
        {
          format: timeBudget
            ? " {bar} {percentage}% | {elapsed}s/{time}s | step {value} | loss {loss} | valid {valid} | {speed}"
            : " {bar} {percentage}% | step {value}/{total} | ETA {eta_formatted} | loss {loss} | valid {valid} | {speed}",
          stream: this.out,
          hideCursor: true,
          etaBuffer: 50,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      this.barValue = timeBudget ? 0 : e.step;
      this.bar.start(timeBudget ? Math.round(seconds ?? 0) : totalSteps, this.barValue, {
        ...this.payload,
        time: Math.round(seconds ?? 0),
        elapsed: 0,
      });
    } else if (this.verbose)
      this.out.write(
        `training ${e.numParams} parameters, ${e.stepsPerEpoch} steps per epoch${totalSteps !== null ? `, ${totalSteps} steps` : ""}${seconds !== null ? `, at most ${seconds}s` : ""}\n`,
      );
  }

  private step(e: Extract<TrainEvent, { type: "step" }>): void {
    this.emaLoss = this.emaLoss === null ? e.loss : 0.95 * this.emaLoss + 0.05 * e.loss;
    this.payload = {
      ...this.payload,
      loss: this.emaLoss.toFixed(4),
      speed: `${formatRate(e.throughput)}/s`,
    };
    if (!this.bar) return;
    if (this.o.budget.totalSteps === null) {
      const elapsed = Math.round(e.elapsedMs / 1000);
      this.barValue = Math.min(elapsed, this.bar.getTotal());
      this.bar.update(this.barValue, { ...this.payload, elapsed });
    } else {
      this.barValue = e.step;
      this.bar.update(e.step, this.payload);
    }
  }
}

function formatRate(x: number): string {
  return x >= 1e6
    ? `${(x / 1e6).toFixed(1)}M`
    : x >= 1e3
      ? `${(x / 1e3).toFixed(1)}k`
      : x.toFixed(0);
}

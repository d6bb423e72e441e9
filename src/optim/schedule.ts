/**
 * Learning-rate schedules as pure functions of the 0-based step index, so a run resumed from a
 * checkpoint at step k gets exactly the rates it would have had: set `optimizer.lr =
 * lrAt(baseLr, k, schedule)` before step k.
 *
 * Every schedule may start with a linear warm-up: step s < warmupSteps uses
 * baseLr·(s + 1)/warmupSteps, so the last warm-up step already uses baseLr. After it
 * (u = s − warmupSteps steps later):
 * - constant: baseLr.
 * - step: baseLr·gamma^floor(u / stepSize), as torch's StepLR.
 * - cosine: minLr + (baseLr − minLr)·(1 + cos(π·u / (totalSteps − warmupSteps)))/2 with
 *   minLr = minLrFactor·baseLr, as torch's CosineAnnealingLR with T_max = totalSteps −
 *   warmupSteps: it reaches minLr at step totalSteps and stays there after.
 */
import { ConfigError } from "../tensor/errors.js";

export const SCHEDULE_KINDS = ["constant", "step", "cosine"] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

/** A learning-rate schedule: constant, step decay or cosine, with optional linear warm-up. */
export interface ScheduleConfig {
  kind: ScheduleKind;
  /** Steps of linear warm-up, integer ≥ 0 (default 0). */
  warmupSteps?: number;
  /** step: decay every stepSize steps after the warm-up, integer ≥ 1 (required). */
  stepSize?: number;
  /** step: decay factor, in (0, 1] (default 0.1, as torch's StepLR). */
  gamma?: number;
  /** cosine: step at which the rate reaches its minimum, integer > warmupSteps (required). */
  totalSteps?: number;
  /** cosine: minimum rate as a fraction of baseLr, in [0, 1] (default 0). */
  minLrFactor?: number;
}

const OPTIONS: Record<ScheduleKind, readonly string[]> = {
  constant: ["warmupSteps"],
  step: ["warmupSteps", "stepSize", "gamma"],
  cosine: ["warmupSteps", "totalSteps", "minLrFactor"],
};

function int(field: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min)
    throw new ConfigError(field, `must be an integer ≥ ${min}, got ${String(v)}`);
  return v;
}

function frac(field: string, v: unknown, minOpen: boolean): number {
  if (typeof v !== "number" || !Number.isFinite(v) || (minOpen ? v <= 0 : v < 0) || v > 1)
    throw new ConfigError(field, `must be in ${minOpen ? "(" : "["}0, 1], got ${String(v)}`);
  return v;
}

/**
 * Validates a schedule and fills its defaults. Throws ConfigError naming the field on an unknown
 * kind, an option the kind does not have, a missing required option or an out-of-range value.
 */
export function resolveSchedule(s: ScheduleConfig): Readonly<Required<ScheduleConfig>> {
  if (typeof s !== "object" || s === null) throw new ConfigError("schedule", "must be an object");
  const kind = s.kind;
  if (!(SCHEDULE_KINDS as readonly string[]).includes(kind))
    throw new ConfigError(
      "kind",
      `must be one of ${SCHEDULE_KINDS.join(", ")}; got ${JSON.stringify(kind)}`,
    );
  const allowed = OPTIONS[kind];
  for (const [key, v] of Object.entries(s))
    if (key !== "kind" && v !== undefined && !allowed.includes(key))
      throw new ConfigError(
        key,
        `is not an option of the ${kind} schedule (its options: ${allowed.join(", ")})`,
      );
  const warmupSteps = int("warmupSteps", s.warmupSteps ?? 0, 0);
  let stepSize = 1;
  let gamma = 1;
  let totalSteps = warmupSteps + 1;
  let minLrFactor = 0;
  if (kind === "step") {
    if (s.stepSize === undefined) throw new ConfigError("stepSize", "is required for kind step");
    stepSize = int("stepSize", s.stepSize, 1);
    gamma = frac("gamma", s.gamma ?? 0.1, true);
  } else if (kind === "cosine") {
    if (s.totalSteps === undefined)
      throw new ConfigError("totalSteps", "is required for kind cosine");
    totalSteps = int("totalSteps", s.totalSteps, 1);
    if (totalSteps <= warmupSteps)
      throw new ConfigError(
        "totalSteps",
        `must be greater than warmupSteps (${warmupSteps}), got ${totalSteps}`,
      );
    minLrFactor = frac("minLrFactor", s.minLrFactor ?? 0, false);
  }
  return Object.freeze({ kind, warmupSteps, stepSize, gamma, totalSteps, minLrFactor });
}

/** The learning rate for the 0-based step index `step`. */
export function lrAt(baseLr: number, step: number, s: ScheduleConfig): number {
  if (typeof baseLr !== "number" || !Number.isFinite(baseLr) || baseLr < 0)
    throw new ConfigError("lr", `must be a finite number ≥ 0, got ${String(baseLr)}`);
  int("step", step, 0);
  const r = resolveSchedule(s);
  if (step < r.warmupSteps) return (baseLr * (step + 1)) / r.warmupSteps;
  const u = step - r.warmupSteps;
  switch (r.kind) {
    case "constant":
      return baseLr;
    case "step":
      return baseLr * r.gamma ** Math.floor(u / r.stepSize);
    case "cosine": {
      const minLr = r.minLrFactor * baseLr;
      const progress = Math.min(u / (r.totalSteps - r.warmupSteps), 1);
      return minLr + ((baseLr - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
    }
  }
}

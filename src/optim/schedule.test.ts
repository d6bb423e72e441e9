import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../tensor/errors.js";
import { lrAt, resolveSchedule, type ScheduleConfig } from "./schedule.js";

const close = (a: number, e: number, what = ""): void =>
  assert.ok(Math.abs(a - e) <= 1e-15 * Math.max(1, Math.abs(e)), `${what}: ${a} vs ${e}`);

describe("lrAt", () => {
  it("constant, with and without warm-up", () => {
    assert.equal(lrAt(0.1, 0, { kind: "constant" }), 0.1);
    assert.equal(lrAt(0.1, 1e6, { kind: "constant" }), 0.1);
    const s: ScheduleConfig = { kind: "constant", warmupSteps: 4 };
    const lrs = [0, 1, 2, 3, 4, 5].map((k) => lrAt(0.2, k, s));
    [0.05, 0.1, 0.15, 0.2, 0.2, 0.2].forEach((e, k) => close(lrs[k], e, `step ${k}`));
  });

  it("step decay after the warm-up, as StepLR", () => {
    const s: ScheduleConfig = { kind: "step", warmupSteps: 2, stepSize: 3, gamma: 0.5 };
    const lrs = Array.from({ length: 10 }, (_, k) => lrAt(1, k, s));
    assert.deepEqual(lrs, [0.5, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]);
    // default gamma 0.1
    close(lrAt(1, 7, { kind: "step", stepSize: 3 }), 0.01);
  });

  it("cosine from baseLr down to minLrFactor·baseLr at totalSteps, clamped after", () => {
    const s: ScheduleConfig = {
      kind: "cosine",
      warmupSteps: 10,
      totalSteps: 110,
      minLrFactor: 0.1,
    };
    close(lrAt(1, 0, s), 0.1, "first warm-up step");
    close(lrAt(1, 9, s), 1, "last warm-up step");
    close(lrAt(1, 10, s), 1, "start of the cosine");
    close(lrAt(1, 60, s), 0.55, "half way");
    close(lrAt(1, 35, s), 0.1 + (0.9 * (1 + Math.cos(Math.PI / 4))) / 2, "a quarter");
    close(lrAt(1, 110, s), 0.1, "end");
    close(lrAt(1, 1000, s), 0.1, "after the end");
    // monotone after the warm-up
    for (let k = 10; k < 120; k++) assert.ok(lrAt(1, k + 1, s) <= lrAt(1, k, s));
    close(lrAt(2, 50, { kind: "cosine", totalSteps: 100 }), 1, "no warm-up, min 0");
    assert.equal(lrAt(2, 100, { kind: "cosine", totalSteps: 100 }), 0);
  });

  it("is a pure function of the step (resuming gives the same rates)", () => {
    const s: ScheduleConfig = { kind: "cosine", warmupSteps: 3, totalSteps: 20 };
    const a = Array.from({ length: 25 }, (_, k) => lrAt(0.01, k, s));
    const b = Array.from({ length: 25 }, (_, k) => lrAt(0.01, 24 - k, s)).reverse();
    assert.deepEqual(a, b);
  });

  it("rejects bad schedules with a ConfigError naming the field", () => {
    const bad = (f: () => unknown, field: string): void =>
      assert.throws(f, (e: unknown) => e instanceof ConfigError && e.field === field, field);
    const sch = (s: Record<string, unknown>) => s as unknown as ScheduleConfig;
    bad(() => lrAt(1, 0, sch({ kind: "linear" })), "kind");
    bad(() => lrAt(1, 0, sch({ kind: "step" })), "stepSize");
    bad(() => lrAt(1, 0, sch({ kind: "step", stepSize: 0 })), "stepSize");
    bad(() => lrAt(1, 0, sch({ kind: "step", stepSize: 2.5 })), "stepSize");
    bad(() => lrAt(1, 0, sch({ kind: "step", stepSize: 2, gamma: 0 })), "gamma");
    bad(() => lrAt(1, 0, sch({ kind: "step", stepSize: 2, gamma: 1.5 })), "gamma");
    bad(() => lrAt(1, 0, sch({ kind: "cosine" })), "totalSteps");
    bad(() => lrAt(1, 0, sch({ kind: "cosine", totalSteps: 5, warmupSteps: 5 })), "totalSteps");
    bad(() => lrAt(1, 0, sch({ kind: "cosine", totalSteps: 5, minLrFactor: 2 })), "minLrFactor");
    bad(() => lrAt(1, 0, sch({ kind: "constant", warmupSteps: -1 })), "warmupSteps");
    bad(() => lrAt(1, 0, sch({ kind: "constant", gamma: 0.5 })), "gamma");
    bad(() => lrAt(1, 0, sch({ kind: "step", stepSize: 2, totalSteps: 9 })), "totalSteps");
    bad(() => lrAt(1, -1, { kind: "constant" }), "step");
    bad(() => lrAt(1, 0.5, { kind: "constant" }), "step");
    bad(() => lrAt(-1, 0, { kind: "constant" }), "lr");
    bad(() => lrAt(NaN, 0, { kind: "constant" }), "lr");
    assert.deepEqual(resolveSchedule({ kind: "step", stepSize: 4 }), {
      kind: "step",
      warmupSteps: 0,
      stepSize: 4,
      gamma: 0.1,
      totalSteps: 1,
      minLrFactor: 0,
    });
  });
});

#!/usr/bin/env node
/**
 * Kernel throughput, js reference vs wasm SIMD vs wasm relaxed SIMD (fused multiply-adds), on
 * LSTM shapes (float32, one thread). Run after `npm run build`:  node bench/gemm.mjs [--quick]
 *
 * Shapes for batch B = 32, sequence T = 64, input I = 128, hidden H = 128 (G = 4H = 512):
 *   x·W_ihᵀ   (transB)   M = T·B = 2048, N = G, K = I      all steps' input products at once
 *   h·W_hhᵀ   (transB)   M = B = 32,     N = G, K = H      one step's recurrent product
 *   dPre·W_hh (no trans) M = B,          N = H, K = G      one step's dh
 *   dPre·W_ih (no trans) M = T·B,        N = I, K = G      dx for all steps
 *   dPreᵀ·x   (transA)   M = G,          N = I, K = T·B    the weight gradient
 *   h·W_headᵀ (transB)   M = T·B, N = 1, K = H         a one-output head (dot-product path)
 *   h·W_hhᵀ   (transB)   M = 1, N = G, K = H           one step of a single sequence
 *   h·W_hhᵀ   (transB)   M = 1, N = 1024, K = 256      one step of workload D (H = 256)
 * plus the same sizes for the remaining transpose combinations. Each figure is the median over
 * repeats (each repeat ≥ ~20 ms of calls); GFLOP/s counts 2·M·N·K per gemm. The cell kernels
 * report million cells (B·H elements) per second.
 */
import "../dist/src/relaxed-simd.js"; // first: relaxed SIMD on Node 20–21
import { performance } from "node:perf_hooks";
import { getBackend, listBackends } from "../dist/src/backend/index.js";

const quick = process.argv.includes("--quick");
const backends = ["js", "wasm", "wasm-relaxed"].filter((n) => listBackends().includes(n));
const kernels = backends.map((n) => getBackend(n));
if (backends.length < 3) console.log(`available backends: ${backends.join(", ")}`);

/** Median seconds per call of fn. */
function time(fn) {
  fn(); // warm up (and JIT)
  let t0 = performance.now();
  fn();
  const once = Math.max((performance.now() - t0) / 1000, 1e-7);
  const inner = Math.max(1, Math.round(0.02 / once));
  const repeats = quick ? 3 : Math.max(5, Math.min(25, Math.round(1.0 / (once * inner))));
  const samples = [];
  for (let r = 0; r < repeats; r++) {
    t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    samples.push((performance.now() - t0) / 1000 / inner);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

function fill(a, seed) {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
}

/** Arrays for backend k: plain Float32Arrays, or regions of one KernelMemory. */
function arena(k, sizes) {
  if (!k.createMemory) {
    return sizes.map((n, i) => {
      const a = new Float32Array(n);
      fill(a, i + 1);
      return { buf: a, off: 0 };
    });
  }
  const mem = k.createMemory();
  const offs = sizes.map((n) => mem.alloc(n));
  const v = mem.view();
  offs.forEach((o, i) => fill(v.subarray(o, o + sizes[i]), i + 1));
  return offs.map((o) => ({ buf: v, off: o }));
}

function gemmRate(k, m, n, kk, transA, transB) {
  const [c, a, b] = arena(k, [m * n, m * kk, kk * n]);
  const lda = transA ? m : kk;
  const ldb = transB ? kk : n;
  const op = { m, n, k: kk, transA, transB, beta: 1 };
  const s = time(() => k.gemm({ ...c, ld: n }, { ...a, ld: lda }, { ...b, ld: ldb }, op));
  return (2 * m * n * kk) / s / 1e9;
}

const B = 32;
const T = 64;
const I = 128;
const H = 128;
const G = 4 * H;
const cases = [
  ["x·W_ihᵀ", false, true, T * B, G, I],
  ["h·W_hhᵀ", false, true, B, G, H],
  ["dPre·W_hh", false, false, B, H, G],
  ["dPre·W_ih", false, false, T * B, I, G],
  ["dPreᵀ·x", true, false, G, I, T * B],
  ["head N=1", false, true, T * B, 1, H],
  ["step B=1", false, true, 1, G, H],
  ["step D", false, true, 1, 1024, 256],
  ["(shape)", false, false, T * B, G, I],
  ["(shape)", false, false, B, G, H],
  ["(shape)", true, false, T * B, G, I],
  ["(shape)", true, false, B, G, H],
  ["(shape)", false, true, B, H, G],
  ["(shape)", true, true, T * B, G, I],
  ["(shape)", true, true, B, G, H],
  ["(shape)", true, true, G, I, T * B],
];

const pad = (s, w) => String(s).padEnd(w);
const num = (x) => x.toFixed(2).padStart(14);
const header = (first) =>
  `${first}${backends.map((n) => n.padStart(14)).join("")}  ${backends.length > 1 ? `best/js` : ""}`;
const ratio = (rates) =>
  rates.length > 1 ? `${(Math.max(...rates.slice(1)) / rates[0]).toFixed(1)}×` : "";
console.log(`gemm GFLOP/s (float32, median; B=${B} T=${T} I=${I} H=${H})`);
console.log(header(`${pad("product", 11)}${pad("op", 8)}${pad("M×N×K", 16)}`));
for (const [what, tA, tB, m, n, kk] of cases) {
  const op = `${tA ? "Aᵀ" : "A"}·${tB ? "Bᵀ" : "B"}`;
  const rates = kernels.map((k) => gemmRate(k, m, n, kk, tA, tB));
  console.log(
    `${pad(what, 11)}${pad(op, 8)}${pad(`${m}×${n}×${kk}`, 16)}${rates.map(num).join("")}  ${ratio(rates)}`,
  );
}

function cellRates(k, batch, hidden) {
  const bh = batch * hidden;
  const [gates, c, tc, h, cp, dPre, dc, dy, dhn] = arena(k, [
    4 * bh,
    bh,
    bh,
    bh,
    bh,
    4 * bh,
    bh,
    bh,
    bh,
  ]);
  // Forward rewrites the gates in place; repeating it on its own output keeps values finite.
  const dims = { B: batch, H: hidden };
  const fwdIO = { gates, c, tanhC: tc, h: { ...h, ld: hidden }, cPrev: cp };
  const fwd = time(() => k.lstmCellForward(fwdIO, dims));
  const bwdIO = { dPre, dc, dy: { ...dy, ld: hidden }, dhNext: dhn, gates, cPrev: cp, tanhC: tc };
  const bwd = time(() => k.lstmCellBackward(bwdIO, dims));
  return [bh / fwd / 1e6, bh / bwd / 1e6];
}

console.log(`\nLSTM cell, million cells/s (float32, median)`);
console.log(header(`${pad("kernel", 19)}${pad("B×H", 10)}`));
for (const [batch, hidden] of [
  [32, 128],
  [32, 512],
  [1, 128],
]) {
  const rates = kernels.map((k) => cellRates(k, batch, hidden));
  const shape = `${batch}×${hidden}`;
  const fwd = rates.map((r) => r[0]);
  const bwd = rates.map((r) => r[1]);
  console.log(
    `${pad("lstmCellForward", 19)}${pad(shape, 10)}${fwd.map(num).join("")}  ${ratio(fwd)}`,
  );
  console.log(
    `${pad("lstmCellBackward", 19)}${pad(shape, 10)}${bwd.map(num).join("")}  ${ratio(bwd)}`,
  );
}

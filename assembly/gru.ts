/**
 * The GRU kernels of the "wasm" backends (AssemblyScript, float32): the fused cell forward and
 * backward, and the recurrence of one direction over T steps in one call. The equations (G1–G6)
 * and their backward (GB1–GB8) are in docs/derivation.md, §7 "GRU"; the TypeScript reference is
 * src/backend/js/gru-reference.ts, with the same operands.
 *
 * PyTorch `nn.GRU`: gate row blocks r, z, n (each H wide), and b_hn inside the reset product:
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))          h' = n + z ⊙ (h − n)
 * so the input side xg = W_ih x + b_ih and the hidden side hg = W_hh h + b_hh are kept apart.
 *
 * Operands come in descriptors (the `@unmanaged` classes below): records of 4-byte words that the
 * caller writes into linear memory, one word per field in declaration order (pointers are byte
 * addresses, `i32` fields element counts, `reverse` 0 or 1). Every pointer must be 4-byte aligned
 * and no output may overlap an input unless its field says so.
 */
import {
  SIGMOID_ARG,
  activeRows,
  continuingRows,
  TANH_ARG,
  expPass,
  gemmSlice,
  sigmoidFrom,
  tanhFrom,
  tailScratch,
} from "./kernels";

/**
 * One GRU step for `batch` rows (the cell kernels). Word offsets: gates 0, hg 1, bhh 2, h 3,
 * ldh 4, hPrev 5, ldhPrev 6, batch 7, hidden 8, dy 9, ldy 10, dh 11, dXg 12, dHg 13.
 */
@unmanaged
class GruCell {
  /** [B, 3H]: xg = W_ih x + b_ih on entry; post-activation r, z, n after forward. */
  gates: usize = 0;
  /**
   * [B, 3H]: W_hh h_prev (no bias) on entry; after forward, hg = W_hh h_prev + b_hh, whose n
   * block (W_hn h_prev + b_hn, the hidden-side part of n's pre-activation) backward reads.
   */
  hg: usize = 0;
  /** [3H]: b_hh. */
  bhh: usize = 0;
  /** [B, H], rows ldh apart: h_t (forward's output; also a staging row for e^{2|a_n|}). */
  h: usize = 0;
  ldh: i32 = 0;
  /** [B, H], rows ldhPrev apart: h_{t−1}. */
  hPrev: usize = 0;
  ldhPrev: i32 = 0;
  batch: i32 = 0;
  hidden: i32 = 0;
  /** [B, H], rows ldy apart: the loss gradient reaching h_t from above (backward only). */
  dy: usize = 0;
  ldy: i32 = 0;
  /**
   * [B, H]: on entry the gradient reaching h_t from step t+1; on exit dh_t ⊙ z, the part of
   * ∂loss/∂h_{t−1} that bypasses the gates (the caller adds dHg · W_hh).
   */
  dh: usize = 0;
  /** [B, 3H] out: ∂loss/∂xg = [da_r, da_z, da_n] (for W_ih, b_ih and x). */
  dXg: usize = 0;
  /** [B, 3H] out: ∂loss/∂hg = [da_r, da_z, da_n ⊙ r] (for W_hh, b_hh and h_{t−1}). */
  dHg: usize = 0;
}

/**
 * One direction of one layer over T steps (the recurrence kernels). Word offsets: gates 0, hg 1,
 * y 2, ldy 3, h0 4, w 5, bhh 6, packed 7, steps 8, batch 9, hidden 10, reverse 11, dy 12,
 * lddy 13, dh 14, dXg 15, dHg 16, sizes 17.
 */
@unmanaged
class GruSteps {
  /** [T, B, 3H]: xg_t = W_ih x_t + b_ih on entry; r, z, n after forward. */
  gates: usize = 0;
  /** [T, B, 3H]: written by forward (hg_t = W_hh h_{t−1} + b_hh), read by backward. */
  hg: usize = 0;
  /** [T, B, H], rows ldy apart: h_t (forward writes it, backward reads h_{t−1} from it). */
  y: usize = 0;
  ldy: i32 = 0;
  /** [B, H]: the initial state. */
  h0: usize = 0;
  /** W_hh [3H, H]. */
  w: usize = 0;
  /** b_hh [3H]. */
  bhh: usize = 0;
  /**
   * 0, or W_hh packed once for all steps: forward wants packPanels(packed, w, H, true, H, 3H)
   * (W_hhᵀ), backward packPanels(packed, w, H, false, 3H, H); see gruStepsWorkFloats.
   */
  packed: usize = 0;
  steps: i32 = 0;
  batch: i32 = 0;
  hidden: i32 = 0;
  /** 1: t runs T−1…0 (the reverse direction). */
  reverse: i32 = 0;
  /** [T, B, H], rows lddy apart: the loss gradient reaching y_t from above (backward). */
  dy: usize = 0;
  lddy: i32 = 0;
  /** [B, H]: the loss's gradient for h_{T−1} on entry (often 0); ∂loss/∂h0 on exit. */
  dh: usize = 0;
  /** [T, B, 3H] out: ∂loss/∂xg_t. */
  dXg: usize = 0;
  /** [T, B, 3H] out: ∂loss/∂hg_t. */
  dHg: usize = 0;
  /**
   * 0, or [T] f32 rows taking part in each step (variable lengths, rows sorted longest first),
   * as lstmForwardSteps' `sizes`: step t computes rows [0, sizes[t]) only; rows starting there
   * take h0; a row not in step t keeps dh as it is (backward).
   */
  sizes: usize = 0;
}

// Per-thread scratch (tailScratch(), 256 bytes; expPass uses the first 32): the step kernels' own
// cell descriptor (56 bytes) at 64, then gruCellBackward's row pointers (32 bytes): 152 in all.
const CELL_SLOT: usize = 64;

/** Floats of the `packed` area for hidden size H: W_hh in 8-column panels either way round. */
export function gruStepsWorkFloats(hidden: i32): i32 {
  const H = hidden;
  return max(((3 * H + 7) >> 3) * 8 * H, ((H + 7) >> 3) * 8 * 3 * H);
}

// ---------------------------------------------------------------------------------------------
// Lane helpers: `vec` true processes four lanes at p + o; false one float (lane 0 of a splat),
// through the same vector arithmetic, so a tail float equals what a vector lane would give.
// ---------------------------------------------------------------------------------------------

function ld(p: usize, vec: bool): v128 {
  return vec ? v128.load(p) : f32x4.splat(load<f32>(p));
}

function st(p: usize, v: v128, vec: bool): void {
  if (vec) v128.store(p, v);
  else store<f32>(p, f32x4.extract_lane(v, 0));
}

/** (G2) hg = W_hh h + b_hh, then (G3) a = xg + hg at o: r and z blocks (`g` the gates row). */
function preRZ(g: usize, hg: usize, b: usize, o: usize, vec: bool): void {
  const hgb = f32x4.add(ld(hg + o, vec), ld(b + o, vec));
  st(hg + o, hgb, vec);
  st(g + o, f32x4.add(ld(g + o, vec), hgb), vec);
}

/**
 * (G3) r = σ(a_r) from gr = e^−a_r; (G2) hn = W_hn h + b_hn (stored in hgn); (G4) the
 * pre-activation a_n = xg_n + r ⊙ hn (stored in gn).
 */
function preN(gr: usize, gn: usize, hgn: usize, bn: usize, o: usize, vec: bool): void {
  const r = sigmoidFrom(ld(gr + o, vec));
  st(gr + o, r, vec);
  const hn = f32x4.add(ld(hgn + o, vec), ld(bn + o, vec));
  st(hgn + o, hn, vec);
  st(gn + o, f32x4.add(ld(gn + o, vec), f32x4.mul(r, hn)), vec);
}

/**
 * (G3) z = σ(a_z) from gz = e^−a_z; (G4) n = tanh(a_n) from gn = a_n and h = e^{2|a_n|};
 * (G5) h = n + z ⊙ (h_prev − n).
 */
function out(gz: usize, gn: usize, h: usize, hp: usize, o: usize, vec: bool): void {
  const z = sigmoidFrom(ld(gz + o, vec));
  st(gz + o, z, vec);
  const n = tanhFrom(ld(gn + o, vec), ld(h + o, vec));
  st(gn + o, n, vec);
  st(h + o, f32x4.add(n, f32x4.mul(z, f32x4.sub(ld(hp + o, vec), n))), vec);
}

/** Row b of the cell forward (the lanes of preRZ, preN, out; exps as whole-row passes). */
function cellForwardRow(c: GruCell, b: i32): void {
  const H = c.hidden;
  const hB = (<usize>H) << 2;
  const g = c.gates + <usize>b * 3 * hB;
  const hg = c.hg + <usize>b * 3 * hB;
  const h = c.h + ((<usize>(b * c.ldh)) << 2);
  const hp = c.hPrev + ((<usize>(b * c.ldhPrev)) << 2);
  const bhh = c.bhh;
  const n2 = 2 * H;
  const e2 = (<usize>(n2 & ~3)) << 2;
  for (let o: usize = 0; o < e2; o += 16) preRZ(g, hg, bhh, o, true);
  for (let o = e2; o < (<usize>n2) << 2; o += 4) preRZ(g, hg, bhh, o, false);
  expPass(g, g, n2, SIGMOID_ARG); // r and z blocks are adjacent
  const e1 = (<usize>(H & ~3)) << 2;
  const gz = g + hB;
  const gn = gz + hB;
  const hgn = hg + 2 * hB;
  const bn = bhh + 2 * hB;
  for (let o: usize = 0; o < e1; o += 16) preN(g, gn, hgn, bn, o, true);
  for (let o = e1; o < hB; o += 4) preN(g, gn, hgn, bn, o, false);
  expPass(h, gn, H, TANH_ARG);
  for (let o: usize = 0; o < e1; o += 16) out(gz, gn, h, hp, o, true);
  for (let o = e1; o < hB; o += 4) out(gz, gn, h, hp, o, false);
}

/**
 * Fused GRU cell forward for c.batch rows (G2's bias, G3–G5 of docs/derivation.md §7).
 * In:  gates = xg [B,3H]; hg = W_hh h_prev [B,3H]; bhh [3H]; hPrev [B,H].
 * Out: gates = r, z, n (post-activation); hg = W_hh h_prev + b_hh; h [B,H] = h_t.
 * Saved for backward: gates (r, z, n), the n block of hg (W_hn h_prev + b_hn), and h_prev.
 */
export function gruCellForward(cell: usize): void {
  const c = changetype<GruCell>(cell);
  for (let b = 0; b < c.batch; b++) cellForwardRow(c, b);
}

/**
 * Row pointers of the backward lanes (the operands of one row, offsets added per lane); kept in
 * the per-thread scratch after the cell descriptor.
 */
@unmanaged
class BackRow {
  r: usize = 0;
  hgn: usize = 0;
  hp: usize = 0;
  dy: usize = 0;
  dh: usize = 0;
  dx: usize = 0;
  dhg: usize = 0;
  hB: usize = 0;
}

/**
 * Backward of one group of lanes at byte offset o (GB1–GB4: inverts G5, G4, G3):
 *   dh = dy + dh_next;  dn = dh ⊙ (1 − z);  dz = dh ⊙ (h_prev − n);  dh_prev ← dh ⊙ z
 *   da_n = dn ⊙ (1 − n²);  dr = da_n ⊙ hn;  dhn = da_n ⊙ r
 *   da_r = dr ⊙ r(1 − r);  da_z = dz ⊙ z(1 − z)
 *   dXg = [da_r, da_z, da_n];  dHg = [da_r, da_z, dhn]
 */
function back(w: BackRow, o: usize, vec: bool): void {
  const one = f32x4.splat(1.0);
  const hB = w.hB;
  const r = ld(w.r + o, vec);
  const z = ld(w.r + hB + o, vec);
  const n = ld(w.r + 2 * hB + o, vec);
  const hn = ld(w.hgn + o, vec);
  const dh = f32x4.add(ld(w.dy + o, vec), ld(w.dh + o, vec));
  st(w.dh + o, f32x4.mul(dh, z), vec);
  const dn = f32x4.mul(dh, f32x4.sub(one, z));
  const dz = f32x4.mul(dh, f32x4.sub(ld(w.hp + o, vec), n));
  const dan = f32x4.mul(dn, f32x4.sub(one, f32x4.mul(n, n)));
  const dar = f32x4.mul(f32x4.mul(f32x4.mul(dan, hn), r), f32x4.sub(one, r));
  const daz = f32x4.mul(f32x4.mul(dz, z), f32x4.sub(one, z));
  st(w.dx + o, dar, vec);
  st(w.dx + hB + o, daz, vec);
  st(w.dx + 2 * hB + o, dan, vec);
  st(w.dhg + o, dar, vec);
  st(w.dhg + hB + o, daz, vec);
  st(w.dhg + 2 * hB + o, f32x4.mul(dan, r), vec);
}

/**
 * Fused GRU cell backward for c.batch rows: inverts gruCellForward.
 * In:  dy [B,H] (rows ldy apart); dh [B,H] the gradient reaching h_t from step t+1; gates (r, z,
 *      n) and hg as forward left them; hPrev.
 * Out: dXg, dHg [B,3H] (see GruCell); dh = dh_t ⊙ z (the direct part of ∂loss/∂h_{t−1}).
 */
export function gruCellBackward(cell: usize): void {
  const c = changetype<GruCell>(cell);
  const w = changetype<BackRow>(tailScratch() + CELL_SLOT + offsetof<GruCell>());
  const H = c.hidden;
  const hB = (<usize>H) << 2;
  w.hB = hB;
  const e1 = (<usize>(H & ~3)) << 2;
  for (let b = 0; b < c.batch; b++) {
    const row = <usize>b * 3 * hB;
    w.r = c.gates + row;
    w.hgn = c.hg + row + 2 * hB;
    w.hp = c.hPrev + ((<usize>(b * c.ldhPrev)) << 2);
    w.dy = c.dy + ((<usize>(b * c.ldy)) << 2);
    w.dh = c.dh + <usize>b * hB;
    w.dx = c.dXg + row;
    w.dhg = c.dHg + row;
    for (let o: usize = 0; o < e1; o += 16) back(w, o, true);
    for (let o = e1; o < hB; o += 4) back(w, o, false);
  }
}

// ---------------------------------------------------------------------------------------------
// The recurrence of one GRU direction over T steps for batch rows [i0, i1), as the LSTM's
// (lstmForwardSteps): rows never mix, so threads sharing the memory take blocks of rows for all
// T steps; each step's product chooses its path from the whole batch, so every element comes out
// as from the per-step calls, bit for bit, however the rows are split.
// ---------------------------------------------------------------------------------------------

/** The per-thread cell descriptor for rows [i0, i0 + rows) of step t. */
function stepCell(d: GruSteps, t: usize, i0: i32, rows: i32): GruCell {
  const c = changetype<GruCell>(tailScratch() + CELL_SLOT);
  const H = d.hidden;
  const hB = (<usize>H) << 2;
  const row = t * <usize>d.batch + <usize>i0;
  c.gates = d.gates + row * 3 * hB;
  c.hg = d.hg + row * 3 * hB;
  c.bhh = d.bhh;
  c.h = d.y + ((row * <usize>d.ldy) << 2);
  c.ldh = d.ldy;
  c.dy = d.dy + ((row * <usize>d.lddy) << 2);
  c.ldy = d.lddy;
  c.dh = d.dh + <usize>i0 * hB;
  c.dXg = d.dXg + row * 3 * hB;
  c.dHg = d.dHg + row * 3 * hB;
  c.batch = rows;
  c.hidden = H;
  // h_{t−1}: h0 on the first consumed step, else the previous output row.
  const first = d.reverse !== 0 ? t === <usize>(d.steps - 1) : t === 0;
  const tp = d.reverse !== 0 ? t + 1 : t - 1;
  c.hPrev = first ? d.h0 + <usize>i0 * hB : d.y + (((tp * <usize>d.batch + <usize>i0) * <usize>d.ldy) << 2); // prettier-ignore
  c.ldhPrev = first ? H : d.ldy;
  return c;
}

/**
 * Forward (G2–G5) for s = 0…T−1, t = s (T−1−s when reverse), rows [i0, i1):
 *   hg_t = h_{t−1}·W_hhᵀ; gruCellForward(step t), with h_{−1} = h0.
 * `scratch`: this thread's gemm scratch (gemmScratchBytes()).
 */
export function gruForwardSteps(desc: usize, i0: i32, i1: i32, scratch: usize): void {
  // Variable lengths take loops of their own, so the all-rows loops stay as they were.
  if (changetype<GruSteps>(desc).sizes !== 0) gruRows(desc, i0, i1, scratch, false);
  else gruSteps(desc, i0, i1, scratch, false);
}

/**
 * Backward through the recurrence (GB1–GB6) for s = T−1…0, rows [i0, i1):
 *   gruCellBackward(step t) (dh ← dh_t ⊙ z); dh += dHg_t · W_hh.
 * On exit dh holds ∂loss/∂h0; dXg and dHg hold every step's gate gradients, from which the
 * caller forms dW_ih, db_ih, dx (with dXg) and dW_hh, db_hh (with dHg and h_{t−1}) in whole-
 * sequence products.
 */
export function gruBackwardSteps(desc: usize, i0: i32, i1: i32, scratch: usize): void {
  if (changetype<GruSteps>(desc).sizes !== 0) gruRows(desc, i0, i1, scratch, true);
  else gruSteps(desc, i0, i1, scratch, true);
}

/**
 * Both recurrences over the rows [i0, i1) ∩ [0, batch): one call per chunk of rows, so choosing
 * the direction costs one branch per call, outside the steps.
 */
function gruSteps(desc: usize, i0: i32, i1: i32, scratch: usize, backward: bool): void {
  const d = changetype<GruSteps>(desc);
  if (i0 < 0) i0 = 0;
  if (i1 > d.batch) i1 = d.batch;
  if (i1 <= i0) return;
  const H = d.hidden;
  const G = 3 * H;
  const B = d.batch;
  if (!backward) {
    for (let s = 0; s < d.steps; s++) {
      const t = <usize>(d.reverse !== 0 ? d.steps - 1 - s : s);
      const hgT = d.hg + ((t * <usize>(B * G)) << 2);
      const tp = d.reverse !== 0 ? t + 1 : t - 1;
      const hPrev = s === 0 ? d.h0 : d.y + ((tp * <usize>(B * d.ldy)) << 2);
      // (G2) the hidden-side product, chosen from the whole batch's shape, rows [i0, i1)
      // prettier-ignore
      gemmSlice(hgT, G, hPrev, s === 0 ? H : d.ldy, false, d.w, H, true, B, G, H, 0, i0, i1, 0, G, scratch, d.packed);
      gruCellForward(changetype<usize>(stepCell(d, t, i0, i1 - i0)));
    }
  } else {
    for (let s = d.steps - 1; s >= 0; s--) {
      const t = <usize>(d.reverse !== 0 ? d.steps - 1 - s : s);
      gruCellBackward(changetype<usize>(stepCell(d, t, i0, i1 - i0)));
      const dHgT = d.dHg + ((t * <usize>(B * G)) << 2);
      // (GB5, inverts G2 for h_{t−1}) dh += dHg_t · W_hh
      // prettier-ignore
      gemmSlice(d.dh, H, dHgT, G, false, d.w, H, false, B, H, G, 1, i0, i1, 0, H, scratch, d.packed);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Variable lengths (d.sizes ≠ 0): as the per-step composition (src/backend/steps.ts), each step
// runs on its row groups, [0, cont) continuing from step tp and [cont, n) starting from h0
// (stepRows), each product taking its group's rows as m, so a row's bits do not depend on how
// the rows are split across threads.
// ---------------------------------------------------------------------------------------------

/** gruSteps with d.sizes ≠ 0: both recurrences over the rows [i0, i1) ∩ [0, batch). */
function gruRows(desc: usize, i0: i32, i1: i32, scratch: usize, backward: bool): void {
  const d = changetype<GruSteps>(desc);
  if (i0 < 0) i0 = 0;
  if (i1 > d.batch) i1 = d.batch;
  if (i1 <= i0) return;
  if (backward) gruBackwardRows(d, i0, i1, scratch);
  else gruForwardRows(d, i0, i1, scratch);
}

/** The cell descriptor for rows [a, b) of step t, h_{t−1} from h0 (fromInit) or step tp. */
function groupCell(d: GruSteps, t: usize, a: i32, b: i32, fromInit: bool): GruCell {
  const c = stepCell(d, t, a, b - a);
  const tp = d.reverse !== 0 ? t + 1 : t - 1;
  const hB = (<usize>d.hidden) << 2;
  c.hPrev = fromInit ? d.h0 + <usize>a * hB : d.y + (((tp * <usize>d.batch + <usize>a) * <usize>d.ldy) << 2); // prettier-ignore
  c.ldhPrev = fromInit ? d.hidden : d.ldy;
  return c;
}

/** gruForwardSteps with d.sizes: (G2) per row group, then the cell on the group's rows. */
function gruForwardRows(d: GruSteps, i0: i32, i1: i32, scratch: usize): void {
  const H = d.hidden;
  const G = 3 * H;
  const B = d.batch;
  const reverse = d.reverse !== 0;
  for (let s = 0; s < d.steps; s++) {
    const t = <usize>(reverse ? d.steps - 1 - s : s);
    const tp = reverse ? t + 1 : t - 1;
    const hgT = d.hg + ((t * <usize>(B * G)) << 2);
    const n = activeRows(d.sizes, <i32>t, B);
    const cont = continuingRows(d.sizes, s, <i32>t, n, reverse);
    for (let part = 0; part < 2; part++) {
      const lo = part === 0 ? 0 : cont;
      const hi = part === 0 ? cont : n;
      const a = max(i0, lo);
      const b = min(i1, hi);
      if (b <= a) continue;
      const fromInit = part === 1;
      const lda = fromInit ? H : d.ldy;
      const hPrev = (fromInit ? d.h0 : d.y + ((tp * <usize>(B * d.ldy)) << 2)) + ((<usize>(lo * lda)) << 2); // prettier-ignore
      // (G2) hg = h_{t−1}·W_hhᵀ of the group [lo, hi) (m = its rows), rows [a, b)
      // prettier-ignore
      gemmSlice(hgT + ((<usize>(lo * G)) << 2), G, hPrev, lda, false, d.w, H, true, hi - lo, G, H, 0, a - lo, b - lo, 0, G, scratch, d.packed);
      gruCellForward(changetype<usize>(groupCell(d, t, a, b, fromInit)));
    }
  }
}

/**
 * gruBackwardSteps with d.sizes: the cell backward per row group, then (GB5) dh += dHg_t · W_hh
 * over the step's n active rows (rows past n keep dh).
 */
function gruBackwardRows(d: GruSteps, i0: i32, i1: i32, scratch: usize): void {
  const H = d.hidden;
  const G = 3 * H;
  const B = d.batch;
  const reverse = d.reverse !== 0;
  for (let s = d.steps - 1; s >= 0; s--) {
    const t = <usize>(reverse ? d.steps - 1 - s : s);
    const n = activeRows(d.sizes, <i32>t, B);
    const cont = continuingRows(d.sizes, s, <i32>t, n, reverse);
    for (let part = 0; part < 2; part++) {
      const a = part === 0 ? i0 : max(i0, cont);
      const b = part === 0 ? min(i1, cont) : min(i1, n);
      if (b <= a) continue;
      gruCellBackward(changetype<usize>(groupCell(d, t, a, b, part === 1)));
    }
    const e = min(i1, n);
    if (e <= i0) continue;
    const dHgT = d.dHg + ((t * <usize>(B * G)) << 2);
    // prettier-ignore
    gemmSlice(d.dh, H, dHgT, G, false, d.w, H, false, n, H, G, 1, i0, e, 0, H, scratch, d.packed);
  }
}

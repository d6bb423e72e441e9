/**
 * The WebAssembly SIMD kernels of the "wasm" backend (AssemblyScript, float32 only).
 *
 * Every pointer is a byte address in this instance's linear memory; sizes and leading dimensions
 * are in elements. The semantics are those of `Kernels` in src/backend/kernels.ts; the JS side
 * (src/backend/wasm/index.ts) turns (Float32Array, element offset) operands into pointers.
 *
 * Memory map: [0, __heap_base) static data, then a fixed scratch area (packed B panels and small
 * temporaries, see `scratchEnd`), then the operands the JS bump allocator hands out.
 *
 * Two builds share this source: one with its own memory, and one that imports a shared memory
 * (--enable threads --importMemory --sharedMemory) so several instances, one per thread, compute
 * on the same operands. Only `gemm` runs on other threads, each with a scratch of its own; the
 * static scratch and the element-wise kernels belong to the instance on the owning thread.
 *
 * Build: scripts/build-wasm.mjs (asc -O3 --runtime stub --enable simd --noAssert). No runtime, no
 * allocator, no imports (the threaded build imports only its memory): the module is pure
 * computation over its memory.
 */

// ---------------------------------------------------------------------------------------------
// GEMM: C[M,N] = beta·C + op(A)·op(B), blocked GotoBLAS style.
//
// op(B) is packed, per block of KC rows and NC columns, into panels of NR = 8 columns: panel
// element (p, q) at p·8 + q, the last panel zero-padded. op(A) is packed, per block of MC rows
// and KC columns, into panels of MR = 4 rows: panel element (p, r) at p·4 + r, so the
// micro-kernel reads the four rows of one k through one pointer and constant offsets. The
// micro-kernel keeps a 4×8 tile of C in eight f32x4 registers and, per k, broadcasts one element
// of each of the four A rows against two vectors of the B panel.
//
// Where the engine has relaxed SIMD (the "relaxed" builds), each multiply-add is one fused
// f32x4.relaxed_madd (an FMA instruction where the CPU has one); otherwise a mul then an add.
// Either way every element of C sums its K products in the same order on every path.
// ---------------------------------------------------------------------------------------------

const NR: i32 = 8;
const MR: i32 = 4;
const KC: i32 = 256;
const NC: i32 = 512;
const MC: i32 = 128;
const DIRECT_M: i32 = 4;

const PACK_B_BYTES: usize = <usize>(KC * NC) * 4;
const PACK_A_BYTES: usize = <usize>(MC * KC) * 4;
const TILE_BYTES: usize = 4 * 8 * 4;
const TMP_BYTES: usize = 16 * 16;
/** One gemm scratch: KC·NC floats of packed op(B), MC·KC of packed op(A), a 4×8 C tile. */
const GEMM_SCRATCH_BYTES: usize = PACK_B_BYTES + PACK_A_BYTES + TILE_BYTES;

const scratchBase: usize = (__heap_base + 63) & ~(<usize>63);
const mainScratch: usize = scratchBase; // the owning thread's gemm scratch
// 16 vectors for the element-wise kernels' tails, right after this thread's gemm scratch (a
// global of the instance: each thread sharing the memory has its own, see setScratch)
let tmp: usize = mainScratch + GEMM_SCRATCH_BYTES;

/** First byte after the scratch area: the JS allocator starts here (16-byte aligned). */
export function scratchEnd(): usize {
  return mainScratch + GEMM_SCRATCH_BYTES + TMP_BYTES;
}

/**
 * For an instance run by another thread over a shared memory: the element-wise kernels of this
 * instance keep their tails in the `gemmScratchBytes()` area at `scratch` (after its gemm part).
 */
export function setScratch(scratch: usize): void {
  tmp = scratch + GEMM_SCRATCH_BYTES;
}

/** This instance's tail vectors (TMP_BYTES): the element-wise kernels' per-thread scratch. */
export function tailScratch(): usize {
  return tmp;
}

/**
 * The static gemm scratch (for the thread that owns the instance). Other threads sharing the
 * memory pass scratch areas of `gemmScratchBytes()` bytes that the JS allocator handed out.
 */
export function gemmScratch(): usize {
  return mainScratch;
}

/** One thread's scratch: the gemm scratch, then the element-wise kernels' tail vectors. */
export function gemmScratchBytes(): usize {
  return GEMM_SCRATCH_BYTES + TMP_BYTES;
}

/** Whether this build fuses multiply-adds (relaxed SIMD): 1 or 0. */
export function fusedMultiplyAdd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/** acc + x·y, four lanes: fused (one rounding) in the relaxed builds, mul then add otherwise. */
function madd(x: v128, y: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(x, y, acc);
  return f32x4.add(acc, f32x4.mul(x, y));
}

/** Stores v to C (=|+=): C = v, or C + v when acc. */
function put(c: usize, v: v128, acc: bool): void {
  v128.store(c, acc ? f32x4.add(v128.load(c), v) : v);
}

/**
 * 4 rows × 8 columns: C[0..4, 0..8] (=|+=) Σ_p Ap[p, 0..4]ᵀ·Bp[p, 0..8], A packed 4 floats per k
 * (one panel), B panel rows `bs` bytes apart.
 */
function kern4x8(a: usize, b: usize, bs: usize, kc: i32, c: usize, ldcB: usize, acc: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let ap = a;
  let bp = b;
  const end = a + ((<usize>kc) << 4);
  while (ap < end) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let x = v128.load32_splat(ap);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(ap, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(ap, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(ap, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    ap += 16;
    bp += bs;
  }
  let cp = c;
  put(cp, c00, acc);
  put(cp + 16, c01, acc);
  cp += ldcB;
  put(cp, c10, acc);
  put(cp + 16, c11, acc);
  cp += ldcB;
  put(cp, c20, acc);
  put(cp + 16, c21, acc);
  cp += ldcB;
  put(cp, c30, acc);
  put(cp + 16, c31, acc);
}

/** 2 rows × 8 columns (the M remainder): rows r and r+1 of a packed A panel, a = panel + 4r. */
function kern2x8(a: usize, b: usize, bs: usize, kc: i32, c: usize, ldcB: usize, acc: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let ap = a;
  let bp = b;
  const end = a + ((<usize>kc) << 4);
  while (ap < end) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let x = v128.load32_splat(ap);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(ap, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    ap += 16;
    bp += bs;
  }
  put(c, c00, acc);
  put(c + 16, c01, acc);
  put(c + ldcB, c10, acc);
  put(c + ldcB + 16, c11, acc);
}

/** 1 row × 8 columns (the M remainder): row r of a packed A panel, a = panel + 4r. */
function kern1x8(a: usize, b: usize, bs: usize, kc: i32, c: usize, acc: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let ap = a;
  let bp = b;
  const end = a + ((<usize>kc) << 4);
  while (ap < end) {
    const x = v128.load32_splat(ap);
    c00 = madd(x, v128.load(bp), c00);
    c01 = madd(x, v128.load(bp, 16), c01);
    ap += 16;
    bp += bs;
  }
  put(c, c00, acc);
  put(c + 16, c01, acc);
}

/** A rows×8 tile of C (rows 4, 2 or 1) from packed A at `a` (panel + 4·first row). */
function tile8(
  rows: i32,
  a: usize,
  b: usize,
  bs: usize,
  kc: i32,
  c: usize,
  ldcB: usize,
  acc: bool,
): void {
  if (rows === 4) kern4x8(a, b, bs, kc, c, ldcB, acc);
  else if (rows === 2) kern2x8(a, b, bs, kc, c, ldcB, acc);
  else kern1x8(a, b, bs, kc, c, acc);
}

/** A rows×8 tile computed into `tile`, then its first nr columns merged into C. */
function edgeTile(
  tile: usize,
  rows: i32,
  a: usize,
  b: usize,
  kc: i32,
  c: usize,
  ldcB: usize,
  nr: i32,
  acc: bool,
): void {
  tile8(rows, a, b, 32, kc, tile, 32, false);
  for (let r = 0; r < rows; r++) {
    const cr = c + <usize>r * ldcB;
    const tr = tile + <usize>(r * 32);
    for (let q = 0; q < nr; q++) {
      const o = (<usize>q) << 2;
      const v = load<f32>(tr + o);
      store<f32>(cr + o, acc ? load<f32>(cr + o) + v : v);
    }
  }
}

/**
 * Packs op(B)[pc..pc+kc, jc..jc+nc] into `packB` (a gemm scratch): panel t (columns jc+8t…) at
 * t·kc·8 floats, element (p, q) at p·8 + q; columns past nc are zero.
 */
function packB(
  dst0: usize,
  b: usize,
  ldb: i32,
  transB: bool,
  pc: i32,
  jc: i32,
  kc: i32,
  nc: i32,
  edgeOnly: bool,
): void {
  const ldbB = (<usize>ldb) << 2;
  for (let jr = edgeOnly ? nc & ~(NR - 1) : 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const dst = dst0 + <usize>(jr * kc) * 4;
    if (!transB) {
      // op(B)[p, j] = B[p, j]: rows of B are contiguous in j.
      let src = b + <usize>pc * ldbB + ((<usize>(jc + jr)) << 2);
      let d = dst;
      if (nr === NR) {
        for (let p = 0; p < kc; p++) {
          v128.store(d, v128.load(src));
          v128.store(d, v128.load(src, 16), 16);
          src += ldbB;
          d += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          v128.store(d, f32x4.splat(0));
          v128.store(d, f32x4.splat(0), 16);
          for (let q = 0; q < nr; q++)
            store<f32>(d + ((<usize>q) << 2), load<f32>(src + ((<usize>q) << 2)));
          src += ldbB;
          d += 32;
        }
      }
    } else {
      // op(B)[p, j] = B[j, p]: transpose 4×4 blocks of the rows j…j+7.
      const row0 = b + <usize>(jc + jr) * ldbB + ((<usize>pc) << 2);
      let p = 0;
      if (nr === NR) {
        for (; p + 4 <= kc; p += 4) {
          const s = row0 + ((<usize>p) << 2);
          const d = dst + ((<usize>p) << 5);
          transpose4(s, ldbB, d, 32);
          transpose4(s + 4 * ldbB, ldbB, d + 16, 32);
        }
      }
      for (; p < kc; p++) {
        const d = dst + ((<usize>p) << 5);
        const s = row0 + ((<usize>p) << 2);
        for (let q = 0; q < NR; q++) {
          store<f32>(d + ((<usize>q) << 2), q < nr ? load<f32>(s + <usize>q * ldbB) : 0);
        }
      }
    }
  }
}

/**
 * Packs op(A)[0..mc, 0..kc] (a points at its first element; rows rsA bytes apart, k steps csA)
 * into `dst`: panel t (rows 4t…4t+3) at t·kc·4 floats, element (p, r) at p·4 + r. The rows past
 * mc in the last panel are left as they were (the remainder kernels never read them).
 */
function packA(dst: usize, a: usize, rsA: usize, csA: usize, mc: i32, kc: i32): void {
  for (let r0 = 0; r0 < mc; r0 += MR) {
    const rows = min(MR, mc - r0);
    const d0 = dst + <usize>(r0 * kc) * 4;
    const a0 = a + <usize>r0 * rsA;
    if (rows === MR && rsA === 4) {
      // op(A) = Aᵀ stored [K, M]: the four rows of one k are contiguous.
      let s = a0;
      let d = d0;
      for (let p = 0; p < kc; p++) {
        v128.store(d, v128.load(s));
        s += csA;
        d += 16;
      }
    } else if (rows === MR && csA === 4) {
      // A stored [M, K]: transpose 4×4 blocks of the four rows.
      let p = 0;
      for (; p + 4 <= kc; p += 4) transpose4(a0 + ((<usize>p) << 2), rsA, d0 + ((<usize>p) << 4), 16); // prettier-ignore
      for (; p < kc; p++) {
        const s = a0 + ((<usize>p) << 2);
        const d = d0 + ((<usize>p) << 4);
        for (let r = 0; r < MR; r++) store<f32>(d + ((<usize>r) << 2), load<f32>(s + <usize>r * rsA)); // prettier-ignore
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const s = a0 + <usize>p * csA;
        const d = d0 + ((<usize>p) << 4);
        for (let r = 0; r < rows; r++) store<f32>(d + ((<usize>r) << 2), load<f32>(s + <usize>r * rsA)); // prettier-ignore
      }
    }
  }
}

/**
 * Reads rows s, s+ld, s+2ld, s+3ld (4 floats each); writes their columns 0..3 as vectors to d,
 * d+step, d+2·step, d+3·step.
 */
function transpose4(s: usize, ldB: usize, d: usize, step: usize): void {
  const r0 = v128.load(s);
  const r1 = v128.load(s + ldB);
  const r2 = v128.load(s + 2 * ldB);
  const r3 = v128.load(s + 3 * ldB);
  const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(d, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(d + step, f32x4.shuffle(t0, t2, 2, 3, 6, 7));
  v128.store(d + 2 * step, f32x4.shuffle(t1, t3, 0, 1, 4, 5));
  v128.store(d + 3 * step, f32x4.shuffle(t1, t3, 2, 3, 6, 7));
}

/** The four lanes of t0…t3 each summed as (l0 + l2) + (l1 + l3): [Σt0, Σt1, Σt2, Σt3]. */
function sum4(t0: v128, t1: v128, t2: v128, t3: v128): v128 {
  const w01 = f32x4.add(f32x4.shuffle(t0, t1, 0, 4, 1, 5), f32x4.shuffle(t0, t1, 2, 6, 3, 7));
  const w23 = f32x4.add(f32x4.shuffle(t2, t3, 0, 4, 1, 5), f32x4.shuffle(t2, t3, 2, 6, 3, 7));
  return f32x4.add(f32x4.shuffle(w01, w23, 0, 1, 4, 5), f32x4.shuffle(w01, w23, 2, 3, 6, 7));
}

/**
 * Eight dot products of length k: out[r·os] (=|+=) Σ_p x[p]·y_r[p] for the rows
 * y_r = y + r·ys, r < 8 (os, ys in bytes). Each in the order of `dot1`.
 */
function dot8(out: usize, os: usize, x: usize, y: usize, ys: usize, k: i32, acc: bool): void {
  let y0 = y;
  let y1 = y0 + ys;
  let y2 = y1 + ys;
  let y3 = y2 + ys;
  let y4 = y3 + ys;
  let y5 = y4 + ys;
  let y6 = y5 + ys;
  let y7 = y6 + ys;
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  let s2 = f32x4.splat(0);
  let s3 = f32x4.splat(0);
  let s4 = f32x4.splat(0);
  let s5 = f32x4.splat(0);
  let s6 = f32x4.splat(0);
  let s7 = f32x4.splat(0);
  let xp = x;
  const end = x + ((<usize>(k & ~3)) << 2);
  while (xp < end) {
    const v = v128.load(xp);
    s0 = madd(v, v128.load(y0), s0);
    s1 = madd(v, v128.load(y1), s1);
    s2 = madd(v, v128.load(y2), s2);
    s3 = madd(v, v128.load(y3), s3);
    s4 = madd(v, v128.load(y4), s4);
    s5 = madd(v, v128.load(y5), s5);
    s6 = madd(v, v128.load(y6), s6);
    s7 = madd(v, v128.load(y7), s7);
    xp += 16;
    y0 += 16;
    y1 += 16;
    y2 += 16;
    y3 += 16;
    y4 += 16;
    y5 += 16;
    y6 += 16;
    y7 += 16;
  }
  let lo = sum4(s0, s1, s2, s3);
  let hi = sum4(s4, s5, s6, s7);
  // The last k mod 4 products, one by one (y_r still points at row r's tail).
  for (let p = k & ~3; p < k; p++) {
    const o = (<usize>(p - (k & ~3))) << 2;
    const v = load<f32>(xp + o);
    lo = f32x4.replace_lane(lo, 0, f32x4.extract_lane(lo, 0) + v * load<f32>(y0 + o));
    lo = f32x4.replace_lane(lo, 1, f32x4.extract_lane(lo, 1) + v * load<f32>(y1 + o));
    lo = f32x4.replace_lane(lo, 2, f32x4.extract_lane(lo, 2) + v * load<f32>(y2 + o));
    lo = f32x4.replace_lane(lo, 3, f32x4.extract_lane(lo, 3) + v * load<f32>(y3 + o));
    hi = f32x4.replace_lane(hi, 0, f32x4.extract_lane(hi, 0) + v * load<f32>(y4 + o));
    hi = f32x4.replace_lane(hi, 1, f32x4.extract_lane(hi, 1) + v * load<f32>(y5 + o));
    hi = f32x4.replace_lane(hi, 2, f32x4.extract_lane(hi, 2) + v * load<f32>(y6 + o));
    hi = f32x4.replace_lane(hi, 3, f32x4.extract_lane(hi, 3) + v * load<f32>(y7 + o));
  }
  if (os === 4) {
    put(out, lo, acc);
    put(out + 16, hi, acc);
  } else {
    putLane(out, f32x4.extract_lane(lo, 0), acc);
    putLane(out + os, f32x4.extract_lane(lo, 1), acc);
    putLane(out + 2 * os, f32x4.extract_lane(lo, 2), acc);
    putLane(out + 3 * os, f32x4.extract_lane(lo, 3), acc);
    putLane(out + 4 * os, f32x4.extract_lane(hi, 0), acc);
    putLane(out + 5 * os, f32x4.extract_lane(hi, 1), acc);
    putLane(out + 6 * os, f32x4.extract_lane(hi, 2), acc);
    putLane(out + 7 * os, f32x4.extract_lane(hi, 3), acc);
  }
}

/**
 * One dot product: out (=|+=) Σ_p x[p]·y[p], in the one order every element of `gemmDot` uses:
 * a vector accumulator over the groups of 4 along p, its lanes summed as (l0 + l2) + (l1 + l3),
 * then the last k mod 4 products one by one.
 */
function dot1(out: usize, x: usize, y: usize, k: i32, acc: bool): void {
  let s = f32x4.splat(0);
  const k4 = k & ~3;
  const end = (<usize>k4) << 2;
  for (let o: usize = 0; o < end; o += 16) s = madd(v128.load(x + o), v128.load(y + o), s);
  let r =
    f32x4.extract_lane(s, 0) +
    f32x4.extract_lane(s, 2) +
    (f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 3));
  for (let p = k4; p < k; p++) {
    const o = (<usize>p) << 2;
    r += load<f32>(x + o) * load<f32>(y + o);
  }
  putLane(out, r, acc);
}

/** Stores v to C (=|+=) as one float. */
function putLane(c: usize, v: f32, acc: bool): void {
  store<f32>(c, acc ? load<f32>(c) + v : v);
}

/**
 * C[i, j] (=|+=) Σ_p A[i, p]·B[j, p]: rows of A and B are contiguous in p (a matrix-vector
 * product when M = 1, or a narrow head when N is small). Dot products go eight at a time, one
 * row of A against eight rows of B (or, when N < 8, one row of B against eight rows of A), so a
 * load of the shared row serves eight products; every element sums in the order of `dot1`
 * whichever block it falls in.
 */
function gemmDot(
  c: usize,
  ldcB: usize,
  a: usize,
  ldaB: usize,
  b: usize,
  ldbB: usize,
  m: i32,
  n: i32,
  k: i32,
  acc: bool,
): void {
  if (n >= 8 || m < 8) {
    for (let i = 0; i < m; i++) {
      const ai = a + <usize>i * ldaB;
      const ci = c + <usize>i * ldcB;
      let j = 0;
      for (; j + 8 <= n; j += 8) dot8(ci + ((<usize>j) << 2), 4, ai, b + <usize>j * ldbB, ldbB, k, acc); // prettier-ignore
      for (; j < n; j++) dot1(ci + ((<usize>j) << 2), ai, b + <usize>j * ldbB, k, acc);
    }
  } else {
    for (let j = 0; j < n; j++) {
      const bj = b + <usize>j * ldbB;
      const cj = c + ((<usize>j) << 2);
      let i = 0;
      for (; i + 8 <= m; i += 8) dot8(cj + <usize>i * ldcB, ldcB, bj, a + <usize>i * ldaB, ldaB, k, acc); // prettier-ignore
      for (; i < m; i++) dot1(cj + <usize>i * ldcB, bj, a + <usize>i * ldaB, k, acc);
    }
  }
}

/**
 * C[M,N] = beta·C + op(A)[M,K]·op(B)[K,N]; beta 0 overwrites C without reading it.
 * transA: A stored [K,M] (row stride lda); transB: B stored [N,K] (row stride ldb).
 *
 * Computes only rows [i0, i1) and columns [j0, j1) of C, packing into `scratch`
 * (gemmScratchBytes() bytes; `gemmScratch()` for the instance's own). Threads sharing one memory
 * split a product into disjoint slices, each with its own scratch. Every element of C comes out
 * bit-identical however the product is sliced: the path (dot products or panels) is chosen from
 * the whole M and N, and each element sums its K terms in the same order on every path's kernels.
 */
export function gemm(
  c: usize,
  ldc: i32,
  a: usize,
  lda: i32,
  transA: bool,
  b: usize,
  ldb: i32,
  transB: bool,
  m: i32,
  n: i32,
  k: i32,
  beta: i32,
  i0: i32,
  i1: i32,
  j0: i32,
  j1: i32,
  scratch: usize,
): void {
  gemmSlice(c, ldc, a, lda, transA, b, ldb, transB, m, n, k, beta, i0, i1, j0, j1, scratch, 0);
}

/**
 * Packs all of op(B)[K, N] into `dst` as `gemm` packs a block: panel t (columns 8t…8t+7) at
 * t·K·8 floats, element (p, q) at p·8 + q, the last panel zero-padded (⌈N/8⌉·8·K floats). A
 * product that reuses one op(B) many times (the recurrence's W_hh, once per step) packs it once.
 */
export function packPanels(dst: usize, b: usize, ldb: i32, transB: bool, k: i32, n: i32): void {
  packB(dst, b, ldb, transB, 0, 0, k, n, false);
}

/**
 * `gemm` with, when packedB ≠ 0, op(B) already packed there by `packPanels` (then the slice's
 * columns must start at j0 = 0 or a multiple of 8). The same arithmetic either way.
 */
export function gemmSlice(
  c: usize,
  ldc: i32,
  a: usize,
  lda: i32,
  transA: bool,
  b: usize,
  ldb: i32,
  transB: bool,
  m: i32,
  n: i32,
  k: i32,
  beta: i32,
  i0: i32,
  i1: i32,
  j0: i32,
  j1: i32,
  scratch: usize,
  packedB: usize,
): void {
  if (i0 < 0) i0 = 0;
  if (j0 < 0) j0 = 0;
  if (i1 > m) i1 = m;
  if (j1 > n) j1 = n;
  if (i1 <= i0 || j1 <= j0) return;
  const ldcB = (<usize>ldc) << 2;
  const ldaB = (<usize>lda) << 2;
  const ldbB = (<usize>ldb) << 2;
  const rsA: usize = transA ? 4 : ldaB;
  // The slice: row i0 of op(A) and C, column j0 of op(B) and C.
  const cs = c + <usize>i0 * ldcB + ((<usize>j0) << 2);
  const as = a + <usize>i0 * rsA;
  const bs = b + (transB ? <usize>j0 * ldbB : (<usize>j0) << 2);
  const ms = i1 - i0;
  const ns = j1 - j0;
  if (k <= 0) {
    if (beta === 0)
      for (let i = 0; i < ms; i++) memory.fill(cs + <usize>i * ldcB, 0, (<usize>ns) << 2);
    return;
  }
  if (transB && !transA && (n <= 4 || m === 1)) {
    // Few columns (a narrow head) or one row (a single sequence step): the 8-wide panels would
    // mostly compute padding or packing, so take dot products along the contiguous K instead.
    gemmDot(cs, ldcB, as, ldaB, bs, ldbB, ms, ns, k, beta !== 0);
    return;
  }
  const pre: usize = packedB === 0 ? 0 : packedB + <usize>(j0 * k) * 4;
  gemmPanels(cs, ldcB, as, lda, transA, bs, ldb, transB, ms, ns, k, beta !== 0, scratch, pre);
}

/**
 * The blocked product of `gemm` on the whole of its (already sliced) operands; op(B) from
 * `prepacked` (packPanels' layout, at the slice's first column) when not 0.
 */
function gemmPanels(
  c: usize,
  ldcB: usize,
  a: usize,
  lda: i32,
  transA: bool,
  b: usize,
  ldb: i32,
  transB: bool,
  m: i32,
  n: i32,
  k: i32,
  accumulate: bool,
  scratch: usize,
  prepacked: usize,
): void {
  const packedB = scratch;
  const packedA = scratch + PACK_B_BYTES;
  const tile = packedA + PACK_A_BYTES;
  // Without transB, B's rows already hold 8 contiguous columns: few rows of A do not repay packing.
  const direct = !transB && m <= DIRECT_M && prepacked === 0;
  const ldbB = (<usize>ldb) << 2;
  const rsA: usize = transA ? 4 : (<usize>lda) << 2;
  const csA: usize = transA ? (<usize>lda) << 2 : 4;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const acc = accumulate || pc > 0;
      if (prepacked === 0) packB(packedB, b, ldb, transB, pc, jc, kc, nc, direct);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(packedA, a + <usize>ic * rsA + <usize>pc * csA, rsA, csA, mc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          // The packed panel (this block's, or the prepacked one's rows pc…), or B itself when
          // direct.
          const panel = prepacked !== 0 ? prepacked + <usize>((jc + jr) * k + pc * NR) * 4 : packedB + <usize>(jr * kc) * 4; // prettier-ignore
          const bp = direct ? b + <usize>pc * ldbB + ((<usize>(jc + jr)) << 2) : panel;
          const bs = direct ? ldbB : 32;
          const cCol = c + ((<usize>(jc + jr)) << 2);
          for (let i = 0; i < mc;) {
            const left = mc - i;
            const rows = left >= 4 ? 4 : left >= 2 ? 2 : 1;
            // Row i of the block: panel i/4, row i%4 within it.
            const ap = packedA + <usize>((i & ~3) * kc) * 4 + ((<usize>(i & 3)) << 2);
            const cp = cCol + <usize>(ic + i) * ldcB;
            if (nr === NR) tile8(rows, ap, bp, bs, kc, cp, ldcB, acc);
            else edgeTile(tile, rows, ap, panel, kc, cp, ldcB, nr, acc);
            i += rows;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Bias and column sums.
// ---------------------------------------------------------------------------------------------

/** out[r, j] = b1[j] + b2[j] (b2 only when hasB2) for r < rows, j < cols. */
export function fillBias(
  out: usize,
  ldOut: i32,
  b1: usize,
  b2: usize,
  hasB2: bool,
  rows: i32,
  cols: i32,
): void {
  if (rows <= 0 || cols <= 0) return;
  const ldB = (<usize>ldOut) << 2;
  const bytes = (<usize>cols) << 2;
  // The first row holds the sum; every other row copies it.
  let j = 0;
  for (; j + 4 <= cols; j += 4) {
    const o = (<usize>j) << 2;
    const v = v128.load(b1 + o);
    v128.store(out + o, hasB2 ? f32x4.add(v, v128.load(b2 + o)) : v);
  }
  for (; j < cols; j++) {
    const o = (<usize>j) << 2;
    const v = load<f32>(b1 + o);
    store<f32>(out + o, hasB2 ? v + load<f32>(b2 + o) : v);
  }
  for (let r = 1; r < rows; r++) memory.copy(out + <usize>r * ldB, out, bytes);
}

/** f64x2 lanes 2, 3 of a f32x4. */
function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 2, 3));
}

/** out[0..4] = (f64)out[0..4] + (lo, hi), rounded once, as the reference's `out[j] += s`. */
function addSums4(out: usize, lo: v128, hi: v128): void {
  const cur = v128.load(out);
  const rlo = f64x2.add(f64x2.promote_low_f32x4(cur), lo);
  const rhi = f64x2.add(promoteHigh(cur), hi);
  v128.store(out, f32x4.shuffle(f32x4.demote_f64x2_zero(rlo), f32x4.demote_f64x2_zero(rhi), 0, 1, 4, 5)); // prettier-ignore
}

/** out[j] += Σ_r x[r, j], accumulated in float64 (like the reference) and rounded once. */
export function addColumnSums(out: usize, x: usize, ldx: i32, rows: i32, cols: i32): void {
  const ldB = (<usize>ldx) << 2;
  let j = 0;
  // Strips of 16 columns (a cache line) first, so each line of x is read once.
  for (; j + 16 <= cols; j += 16) {
    const o = (<usize>j) << 2;
    let s0 = f64x2.splat(0);
    let s1 = f64x2.splat(0);
    let s2 = f64x2.splat(0);
    let s3 = f64x2.splat(0);
    let s4 = f64x2.splat(0);
    let s5 = f64x2.splat(0);
    let s6 = f64x2.splat(0);
    let s7 = f64x2.splat(0);
    let p = x + o;
    for (let r = 0; r < rows; r++) {
      const v0 = v128.load(p);
      const v1 = v128.load(p, 16);
      const v2 = v128.load(p, 32);
      const v3 = v128.load(p, 48);
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v0));
      s1 = f64x2.add(s1, promoteHigh(v0));
      s2 = f64x2.add(s2, f64x2.promote_low_f32x4(v1));
      s3 = f64x2.add(s3, promoteHigh(v1));
      s4 = f64x2.add(s4, f64x2.promote_low_f32x4(v2));
      s5 = f64x2.add(s5, promoteHigh(v2));
      s6 = f64x2.add(s6, f64x2.promote_low_f32x4(v3));
      s7 = f64x2.add(s7, promoteHigh(v3));
      p += ldB;
    }
    addSums4(out + o, s0, s1);
    addSums4(out + o + 16, s2, s3);
    addSums4(out + o + 32, s4, s5);
    addSums4(out + o + 48, s6, s7);
  }
  for (; j + 4 <= cols; j += 4) {
    const o = (<usize>j) << 2;
    let lo = f64x2.splat(0);
    let hi = f64x2.splat(0);
    let p = x + o;
    for (let r = 0; r < rows; r++) {
      const v = v128.load(p);
      lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
      hi = f64x2.add(hi, promoteHigh(v));
      p += ldB;
    }
    addSums4(out + o, lo, hi);
  }
  for (; j < cols; j++) {
    const o = (<usize>j) << 2;
    let s: f64 = 0;
    let p = x + o;
    for (let r = 0; r < rows; r++) {
      s += <f64>load<f32>(p);
      p += ldB;
    }
    store<f32>(out + o, <f32>(<f64>load<f32>(out + o) + s));
  }
}

// ---------------------------------------------------------------------------------------------
// LSTM cell. exp: Cephes expf (≈1 ulp); sigmoid 1/(1 + e^−x); tanh: an odd minimax polynomial
// below 0.625, 1 − 2/(e^{2|x|} + 1) above, sign restored. Relative errors stay within a few ulp
// (≲ 3e-7); NaN propagates; ±inf and huge inputs saturate.
//
// The exponentials run as separate passes over whole rows, two vectors per iteration, so the
// long dependency chain of one exp overlaps with the next (about 1.5× the throughput of one
// vector at a time); the cheap arithmetic that finishes sigmoid/tanh runs in a second pass.
// ---------------------------------------------------------------------------------------------

/**
 * Constants, four lanes each (static data): loading one is a single instruction, cheaper in V8
 * than materializing a v128 constant in the loop.
 */
// prettier-ignore
const K: usize = memory.data<f32>([
  88.8, 88.8, 88.8, 88.8, // 0: exp argument clamp, high
  -104.0, -104.0, -104.0, -104.0, // 16: low
  12582912.0, 12582912.0, 12582912.0, 12582912.0, // 32: 1.5·2^23
  1.442695041, 1.442695041, 1.442695041, 1.442695041, // 48: log2 e
  0.693359375, 0.693359375, 0.693359375, 0.693359375, // 64: ln 2, high part
  -2.1219444e-4, -2.1219444e-4, -2.1219444e-4, -2.1219444e-4, // 80: ln 2, low part
  1.98756915e-4, 1.98756915e-4, 1.98756915e-4, 1.98756915e-4, // 96: exp polynomial
  1.39819995e-3, 1.39819995e-3, 1.39819995e-3, 1.39819995e-3, // 112
  8.33345191e-3, 8.33345191e-3, 8.33345191e-3, 8.33345191e-3, // 128
  4.16657959e-2, 4.16657959e-2, 4.16657959e-2, 4.16657959e-2, // 144
  1.66666655e-1, 1.66666655e-1, 1.66666655e-1, 1.66666655e-1, // 160
  5.00000012e-1, 5.00000012e-1, 5.00000012e-1, 5.00000012e-1, // 176
  1.0, 1.0, 1.0, 1.0, // 192
  -1.0, -1.0, -1.0, -1.0, // 208: sigmoid argument scale
  2.0, 2.0, 2.0, 2.0, // 224: tanh argument scale
  0.625, 0.625, 0.625, 0.625, // 240: tanh polynomial range
  -5.704988725e-3, -5.704988725e-3, -5.704988725e-3, -5.704988725e-3, // 256: tanh polynomial
  2.063908987e-2, 2.063908987e-2, 2.063908987e-2, 2.063908987e-2, // 272
  -5.373971537e-2, -5.373971537e-2, -5.373971537e-2, -5.373971537e-2, // 288
  1.333144158e-1, 1.333144158e-1, 1.333144158e-1, 1.333144158e-1, // 304
  -3.333328068e-1, -3.333328068e-1, -3.333328068e-1, -3.333328068e-1, // 320
], 16);
/** Lane masks: all bits (keep x) and all but the sign (|x|). */
const MASKS: usize = memory.data<i32>([-1, -1, -1, -1, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff], 16); // prettier-ignore

export const SIGMOID_ARG: i32 = 0; // e^−x
export const TANH_ARG: i32 = 1; // e^{2|x|}

/**
 * dst[j] = exp(−src[j]) (SIGMOID_ARG) or exp(2|src[j]|) (TANH_ARG) for 8·groups floats, two
 * vectors per iteration. dst may equal src.
 */
function expGroups(dst: usize, src: usize, groups: i32, arg: i32): void {
  const mask = v128.load(MASKS + ((<usize>arg) << 4));
  const scale = v128.load(K + 208 + ((<usize>arg) << 4));
  let s = src;
  let d = dst;
  for (let q = 0; q < groups; q++) {
    const hi = v128.load(K, 0);
    const lo = v128.load(K, 16);
    const x0 = f32x4.pmax(f32x4.pmin(f32x4.mul(v128.and(v128.load(s), mask), scale), hi), lo);
    const x1 = f32x4.pmax(f32x4.pmin(f32x4.mul(v128.and(v128.load(s, 16), mask), scale), hi), lo);
    // Past 88.8 the result overflows to +inf, below −104 it underflows to 0; pmin/pmax keep NaN
    // (their comparison is false) and are single instructions, unlike min/max.
    // n = round(x·log2 e) by the 1.5·2^23 trick: the sum's low mantissa bits hold n.
    const magic = v128.load(K, 32);
    const log2e = v128.load(K, 48);
    const t0 = madd(x0, log2e, magic);
    const t1 = madd(x1, log2e, magic);
    const n0 = f32x4.sub(t0, magic);
    const n1 = f32x4.sub(t1, magic);
    // r = x − n·ln2 in two steps (0.693359375 has 9 bits, so n·C1 is exact).
    const ln2hi = v128.load(K, 64);
    const ln2lo = v128.load(K, 80);
    let r0 = f32x4.sub(x0, f32x4.mul(n0, ln2hi));
    let r1 = f32x4.sub(x1, f32x4.mul(n1, ln2hi));
    r0 = f32x4.sub(r0, f32x4.mul(n0, ln2lo));
    r1 = f32x4.sub(r1, f32x4.mul(n1, ln2lo));
    // e^r ≈ 1 + r + r²·P(r)
    const p0 = v128.load(K, 96);
    const p1 = v128.load(K, 112);
    let y0 = madd(p0, r0, p1);
    let y1 = madd(p0, r1, p1);
    const p2 = v128.load(K, 128);
    y0 = madd(y0, r0, p2);
    y1 = madd(y1, r1, p2);
    const p3 = v128.load(K, 144);
    y0 = madd(y0, r0, p3);
    y1 = madd(y1, r1, p3);
    const p4 = v128.load(K, 160);
    y0 = madd(y0, r0, p4);
    y1 = madd(y1, r1, p4);
    const p5 = v128.load(K, 176);
    y0 = madd(y0, r0, p5);
    y1 = madd(y1, r1, p5);
    const one = v128.load(K, 192);
    y0 = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(y0, r0), r0), r0), one);
    y1 = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(y1, r1), r1), r1), one);
    // y·2^n as y·2^a·2^b, a = n>>1, b = n − a: both factors stay normal for n ∈ [−150, 128], so
    // subnormal results round once and overflow gives +inf. 2^a has the bits of 1.0 plus a<<23.
    const i0 = i32x4.sub(t0, magic);
    const i1 = i32x4.sub(t1, magic);
    const a0 = i32x4.shr_s(i0, 1);
    const a1 = i32x4.shr_s(i1, 1);
    const b0 = i32x4.sub(i0, a0);
    const b1 = i32x4.sub(i1, a1);
    y0 = f32x4.mul(y0, i32x4.add(i32x4.shl(a0, 23), one));
    y1 = f32x4.mul(y1, i32x4.add(i32x4.shl(a1, 23), one));
    v128.store(d, f32x4.mul(y0, i32x4.add(i32x4.shl(b0, 23), one)));
    v128.store(d, f32x4.mul(y1, i32x4.add(i32x4.shl(b1, 23), one)), 16);
    s += 32;
    d += 32;
  }
}

/** Copies n floats (a short tail: a plain loop beats memory.copy, a call into the engine). */
function copyFloats(dst: usize, src: usize, n: i32): void {
  for (let j = 0; j < n; j++)
    store<f32>(dst + ((<usize>j) << 2), load<f32>(src + ((<usize>j) << 2)));
}

/** expGroups for any n: the last n % 8 floats go through a zero-padded slot in `tmp`. */
export function expPass(dst: usize, src: usize, n: i32, arg: i32): void {
  const groups = n >> 3;
  expGroups(dst, src, groups, arg);
  const rem = n & 7;
  if (rem > 0) {
    const o = (<usize>(groups << 3)) << 2;
    v128.store(tmp, f32x4.splat(0));
    v128.store(tmp, f32x4.splat(0), 16);
    copyFloats(tmp, src + o, rem);
    expGroups(tmp, tmp, 1, arg);
    copyFloats(dst + o, tmp, rem);
  }
}

/** sigmoid(x) from e = e^−x. */
export function sigmoidFrom(e: v128): v128 {
  const one = v128.load(K, 192);
  return f32x4.div(one, f32x4.add(one, e));
}

/** tanh(x) from x and e = e^{2|x|}. */
export function tanhFrom(x: v128, e: v128): v128 {
  const one = v128.load(K, 192);
  const ax = v128.and(x, v128.load(MASKS, 16));
  const big = f32x4.sub(one, f32x4.div(v128.load(K, 224), f32x4.add(e, one)));
  const u = f32x4.mul(ax, ax);
  let p = f32x4.add(f32x4.mul(v128.load(K, 256), u), v128.load(K, 272));
  p = f32x4.add(f32x4.mul(p, u), v128.load(K, 288));
  p = f32x4.add(f32x4.mul(p, u), v128.load(K, 304));
  p = f32x4.add(f32x4.mul(p, u), v128.load(K, 320));
  const small = f32x4.add(ax, f32x4.mul(f32x4.mul(ax, u), p));
  const t = v128.bitselect(small, big, f32x4.lt(ax, v128.load(K, 240)));
  return v128.or(t, v128.andnot(x, v128.load(MASKS, 16))); // the sign of x
}

/**
 * Exported for tests: out[j] = sigmoid(x[j]) (kind 0), tanh (1) or exp (2), j < n, through the
 * same passes the cell uses (out must not overlap x).
 */
export function mathTest(out: usize, x: usize, n: i32, kind: i32): void {
  if (kind === 2) {
    // e^x = e^−(−x)
    for (let j: usize = 0; j < (<usize>n) << 2; j += 4) store<f32>(out + j, -load<f32>(x + j));
    expPass(out, out, n, SIGMOID_ARG);
    return;
  }
  expPass(out, x, n, kind === 0 ? SIGMOID_ARG : TANH_ARG);
  const n4 = n & ~3;
  for (let j = 0; j < n4; j += 4) {
    const o = (<usize>j) << 2;
    const e = v128.load(out + o);
    v128.store(out + o, kind === 0 ? sigmoidFrom(e) : tanhFrom(v128.load(x + o), e));
  }
  for (let j = n4; j < n; j++) {
    const o = (<usize>j) << 2;
    const e = f32x4.splat(load<f32>(out + o));
    const v = kind === 0 ? sigmoidFrom(e) : tanhFrom(f32x4.splat(load<f32>(x + o)), e);
    store<f32>(out + o, f32x4.extract_lane(v, 0));
  }
}

/**
 * Four lanes of the cell after the exponentials: gates hold e^−a (i, f, o) and the raw a_g, eg
 * holds e^{2|a_g|}. Writes i, f, g, o back, c = f⊙c_prev + i⊙g.
 */
function cellGates4(
  gi: usize,
  gf: usize,
  gg: usize,
  go: usize,
  eg: usize,
  c: usize,
  cp: usize,
): void {
  const i = sigmoidFrom(v128.load(gi));
  const f = sigmoidFrom(v128.load(gf));
  const g = tanhFrom(v128.load(gg), v128.load(eg));
  v128.store(gi, i);
  v128.store(gf, f);
  v128.store(gg, g);
  v128.store(go, sigmoidFrom(v128.load(go)));
  v128.store(c, f32x4.add(f32x4.mul(f, v128.load(cp)), f32x4.mul(i, g)));
}

/** Four lanes: tc = tanh(c) from c and ec = e^{2|c|} (ec may be tc), h = o⊙tc. */
function cellOut4(tc: usize, ec: usize, c: usize, o: usize, h: usize): void {
  const t = tanhFrom(v128.load(c), v128.load(ec));
  v128.store(tc, t);
  v128.store(h, f32x4.mul(v128.load(o), t));
}

/** Copies n < 4 floats from src into a zeroed 16-byte slot. */
function tailIn(slot: usize, src: usize, n: i32): usize {
  v128.store(slot, f32x4.splat(0));
  copyFloats(slot, src, n);
  return slot;
}

function tailOut(dst: usize, slot: usize, n: i32): void {
  copyFloats(dst, slot, n);
}

/**
 * See Kernels.lstmCellForward; gates row b is [i | f | g | o], each `hidden` wide. The tanhC row
 * first holds e^{2|a_g|}, then e^{2|c|}, then tanh(c).
 */
export function lstmCellForward(
  gates: usize,
  c: usize,
  tanhC: usize,
  h: usize,
  ldh: i32,
  cPrev: usize,
  batch: i32,
  hidden: i32,
): void {
  const H = hidden;
  const hB = (<usize>H) << 2;
  const ldhB = (<usize>ldh) << 2;
  const h4 = H & ~3;
  const rem = H - h4;
  const r = (<usize>h4) << 2; // byte offset of the tail
  for (let b = 0; b < batch; b++) {
    const gi = gates + <usize>b * 4 * hB;
    const gf = gi + hB;
    const gg = gf + hB;
    const go = gg + hB;
    const cb = c + <usize>b * hB;
    const tb = tanhC + <usize>b * hB;
    const hb = h + <usize>b * ldhB;
    const pb = cPrev + <usize>b * hB;
    expPass(gi, gi, 2 * H, SIGMOID_ARG); // i and f blocks are adjacent
    expPass(go, go, H, SIGMOID_ARG);
    expPass(tb, gg, H, TANH_ARG);
    for (let j: usize = 0; j < r; j += 16) cellGates4(gi + j, gf + j, gg + j, go + j, tb + j, cb + j, pb + j); // prettier-ignore
    if (rem > 0) {
      const si = tailIn(tmp, gi + r, rem);
      const sf = tailIn(tmp + 16, gf + r, rem);
      const sg = tailIn(tmp + 32, gg + r, rem);
      const so = tailIn(tmp + 48, go + r, rem);
      const se = tailIn(tmp + 64, tb + r, rem);
      const sp = tailIn(tmp + 80, pb + r, rem);
      cellGates4(si, sf, sg, so, se, tmp + 96, sp);
      tailOut(gi + r, si, rem);
      tailOut(gf + r, sf, rem);
      tailOut(gg + r, sg, rem);
      tailOut(go + r, so, rem);
      tailOut(cb + r, tmp + 96, rem);
    }
    expPass(tb, cb, H, TANH_ARG);
    for (let j: usize = 0; j < r; j += 16) cellOut4(tb + j, tb + j, cb + j, go + j, hb + j);
    if (rem > 0) {
      const se = tailIn(tmp, tb + r, rem);
      const sc = tailIn(tmp + 16, cb + r, rem);
      const so = tailIn(tmp + 32, go + r, rem);
      cellOut4(se, se, sc, so, tmp + 48);
      tailOut(tb + r, se, rem);
      tailOut(hb + r, tmp + 48, rem);
    }
  }
}

/** Four lanes of the backward cell. */
function cellBwd4(
  di: usize,
  df: usize,
  dg: usize,
  do_: usize,
  dc: usize,
  dy: usize,
  dhn: usize,
  gi: usize,
  gf: usize,
  gg: usize,
  go: usize,
  cp: usize,
  tc: usize,
): void {
  const one = f32x4.splat(1.0);
  const i = v128.load(gi);
  const f = v128.load(gf);
  const g = v128.load(gg);
  const o = v128.load(go);
  const t = v128.load(tc);
  const dh = f32x4.add(v128.load(dy), v128.load(dhn));
  const dct = f32x4.add(
    v128.load(dc),
    f32x4.mul(f32x4.mul(dh, o), f32x4.sub(one, f32x4.mul(t, t))),
  );
  v128.store(dc, f32x4.mul(dct, f));
  v128.store(di, f32x4.mul(f32x4.mul(f32x4.mul(dct, g), i), f32x4.sub(one, i)));
  v128.store(df, f32x4.mul(f32x4.mul(f32x4.mul(dct, v128.load(cp)), f), f32x4.sub(one, f)));
  v128.store(dg, f32x4.mul(f32x4.mul(dct, i), f32x4.sub(one, f32x4.mul(g, g))));
  v128.store(do_, f32x4.mul(f32x4.mul(f32x4.mul(dh, t), o), f32x4.sub(one, o)));
}

/** See Kernels.lstmCellBackward. */
export function lstmCellBackward(
  dPre: usize,
  dc: usize,
  dy: usize,
  ldy: i32,
  dhNext: usize,
  gates: usize,
  cPrev: usize,
  tanhC: usize,
  batch: i32,
  hidden: i32,
): void {
  const hB = (<usize>hidden) << 2;
  const ldyB = (<usize>ldy) << 2;
  const h4 = hidden & ~3;
  const rem = hidden - h4;
  for (let b = 0; b < batch; b++) {
    const g0 = gates + <usize>b * 4 * hB;
    const d0 = dPre + <usize>b * 4 * hB;
    const rb = <usize>b * hB;
    const dyb = dy + <usize>b * ldyB;
    for (let j = 0; j < h4; j += 4) {
      const o = (<usize>j) << 2;
      cellBwd4(
        d0 + o, d0 + hB + o, d0 + 2 * hB + o, d0 + 3 * hB + o,
        dc + rb + o, dyb + o, dhNext + rb + o,
        g0 + o, g0 + hB + o, g0 + 2 * hB + o, g0 + 3 * hB + o,
        cPrev + rb + o, tanhC + rb + o,
      ); // prettier-ignore
    }
    if (rem > 0) {
      const o = (<usize>h4) << 2;
      const dcs = tailIn(tmp, dc + rb + o, rem);
      const dys = tailIn(tmp + 16, dyb + o, rem);
      const dhs = tailIn(tmp + 32, dhNext + rb + o, rem);
      const gi = tailIn(tmp + 48, g0 + o, rem);
      const gf = tailIn(tmp + 64, g0 + hB + o, rem);
      const gg = tailIn(tmp + 80, g0 + 2 * hB + o, rem);
      const go = tailIn(tmp + 96, g0 + 3 * hB + o, rem);
      const cps = tailIn(tmp + 112, cPrev + rb + o, rem);
      const tcs = tailIn(tmp + 128, tanhC + rb + o, rem);
      const out = tmp + 144;
      cellBwd4(out, out + 16, out + 32, out + 48, dcs, dys, dhs, gi, gf, gg, go, cps, tcs);
      tailOut(dc + rb + o, dcs, rem);
      tailOut(d0 + o, out, rem);
      tailOut(d0 + hB + o, out + 16, rem);
      tailOut(d0 + 2 * hB + o, out + 32, rem);
      tailOut(d0 + 3 * hB + o, out + 48, rem);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The recurrence of one LSTM direction over T steps, for batch rows [i0, i1): one call per
// forward or backward pass instead of two kernel calls per step. Rows of the batch never mix
// within the recurrence, so threads sharing the memory each take a block of rows for all T
// steps, with no synchronisation between steps. Each step calls `gemm` (the path chosen from
// the whole batch) and the cell kernel on the rows, so every element comes out as from the
// per-step calls, bit for bit, however the rows are split.
// ---------------------------------------------------------------------------------------------

/**
 * Forward (F2–F5) for s = 0…T−1, t = s (or T−1−s when reverse), rows [i0, i1):
 *   gates_t += h_{t−1}·W_hhᵀ; cell(gates_t, c_t, tanhC_t, y_t ← h_t; c_{t−1}),
 * with h_{−1} = h0 and c_{−1} = c0 ([B, H] each). gates [T, B, 4H] hold W_ih x_t + biases on
 * entry; c, tanhC [T, B, H]; y [T, B, H] with row stride ldy; w = W_hh [4H, H]; packed: 0, or
 * W_hhᵀ as packPanels(packed, w, H, true, H, 4H) left it, which the steps then share.
 * sizes: 0, or [T] f32 rows taking part in each step (variable lengths, rows sorted longest
 * first): step t computes rows [0, sizes[t]) only; rows starting there (the first step, or a
 * reverse direction's rows whose last valid step is t) take h0, c0 (see rowsFrom).
 */
export function lstmForwardSteps(
  gates: usize,
  c: usize,
  tanhC: usize,
  y: usize,
  ldy: i32,
  h0: usize,
  c0: usize,
  w: usize,
  steps: i32,
  batch: i32,
  hidden: i32,
  reverse: bool,
  packed: usize,
  sizes: usize,
  i0: i32,
  i1: i32,
  scratch: usize,
): void {
  if (i0 < 0) i0 = 0;
  if (i1 > batch) i1 = batch;
  if (i1 <= i0) return;
  const H = hidden;
  const G = 4 * H;
  const hB = (<usize>H) << 2;
  const gB = hB << 2;
  const ldyB = (<usize>ldy) << 2;
  const step = <usize>batch;
  for (let s = 0; s < steps; s++) {
    const t = <usize>(reverse ? steps - 1 - s : s);
    const tp = reverse ? t + 1 : t - 1;
    const gT = gates + t * step * gB;
    const n = activeRows(sizes, <i32>t, batch);
    const cont = continuingRows(sizes, s, <i32>t, n, reverse);
    // Rows [i0, i1) ∩ [0, cont) continue from step tp; ∩ [cont, n) start from h0, c0. Each
    // product takes its whole range as m (the path a product takes depends on m), so a row's
    // bits do not depend on how the rows are split across threads.
    for (let part = 0; part < 2; part++) {
      const lo = part === 0 ? 0 : cont;
      const hi = part === 0 ? cont : n;
      const a = max(i0, lo);
      const b = min(i1, hi);
      if (b <= a) continue;
      const fromInit = part === 1;
      const lda = fromInit ? H : ldy;
      const hPrev = (fromInit ? h0 : y + tp * step * ldyB) + <usize>lo * ((<usize>lda) << 2);
      const cPrev = fromInit ? c0 : c + tp * step * hB;
      const ra = <usize>a;
      const m = hi - lo;
      // prettier-ignore
      gemmSlice(gT + (<usize>lo) * gB, G, hPrev, lda, false, w, H, true, m, G, H, 1, a - lo, b - lo, 0, G, scratch, packed);
      lstmCellForward(
        gT + ra * gB,
        c + (t * step + ra) * hB,
        tanhC + (t * step + ra) * hB,
        y + (t * step + ra) * ldyB,
        ldy,
        cPrev + ra * hB,
        b - a,
        H,
      );
    }
  }
}

/** Rows taking part in step t: sizes[t] (f32 at `sizes`), or all of them when sizes is 0. */
export function activeRows(sizes: usize, t: i32, batch: i32): i32 {
  return sizes === 0 ? batch : <i32>load<f32>(sizes + ((<usize>t) << 2));
}

/**
 * Rows [0, cont) of step s (time t, n active rows) continue from the previous step; the rest
 * start from the initial state: none continue on the first step; forward, every active row was
 * active at t − 1; reverse, only the rows active at t + 1 were.
 */
export function continuingRows(sizes: usize, s: i32, t: i32, n: i32, reverse: bool): i32 {
  if (s === 0) return 0;
  if (!reverse || sizes === 0) return n;
  return min(n, <i32>load<f32>(sizes + ((<usize>(t + 1)) << 2)));
}

/**
 * Backward through the recurrence (inverts F5–F2) for s = T−1…0, rows [i0, i1):
 *   cellBackward(dPre_t, dc; dy_t, dh; gates_t, c_{t−1}, tanhC_t); dh = dPre_t·W_hh,
 * with c_{−1} = c0. dh, dc [B, H] carry the gradients from step t+1 (the loss's on entry) and
 * end as what reaches h0 and c0; dPre [T, B, 4H] receives ∂loss/∂a_t; dy [T, B, H] (row stride
 * ldy); gates, c, tanhC as forward saved them; packed: 0, or W_hh as packPanels(packed, w, H,
 * false, 4H, H) left it. sizes as lstmForwardSteps: a row not in step t keeps dh and dc as
 * they are (the loss's gradient on its final state until its last valid step).
 */
export function lstmBackwardSteps(
  dPre: usize,
  dh: usize,
  dc: usize,
  dy: usize,
  ldy: i32,
  gates: usize,
  c: usize,
  tanhC: usize,
  c0: usize,
  w: usize,
  steps: i32,
  batch: i32,
  hidden: i32,
  reverse: bool,
  packed: usize,
  sizes: usize,
  i0: i32,
  i1: i32,
  scratch: usize,
): void {
  if (i0 < 0) i0 = 0;
  if (i1 > batch) i1 = batch;
  if (i1 <= i0) return;
  const H = hidden;
  const G = 4 * H;
  const hB = (<usize>H) << 2;
  const gB = hB << 2;
  const ldyB = (<usize>ldy) << 2;
  const step = <usize>batch;
  for (let s = steps - 1; s >= 0; s--) {
    const t = <usize>(reverse ? steps - 1 - s : s);
    const tp = reverse ? t + 1 : t - 1;
    const dPreT = dPre + t * step * gB;
    const n = activeRows(sizes, <i32>t, batch);
    const cont = continuingRows(sizes, s, <i32>t, n, reverse);
    for (let part = 0; part < 2; part++) {
      const a = part === 0 ? i0 : max(i0, cont);
      const b = part === 0 ? min(i1, cont) : min(i1, n);
      if (b <= a) continue;
      const cPrev = part === 1 ? c0 : c + tp * step * hB;
      const ra = <usize>a;
      lstmCellBackward(
        dPreT + ra * gB,
        dc + ra * hB,
        dy + (t * step + ra) * ldyB,
        ldy,
        dh + ra * hB,
        gates + (t * step + ra) * gB,
        cPrev + ra * hB,
        tanhC + (t * step + ra) * hB,
        b - a,
        H,
      );
    }
    const e = min(i1, n);
    if (e > i0)
      gemmSlice(dh, H, dPreT, G, false, w, H, false, batch, H, G, 0, i0, e, 0, H, scratch, packed);
  }
}

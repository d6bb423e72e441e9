/**
 * The WebAssembly module's exports (the entry scripts/build-wasm.mjs compiles): the kernels of
 * kernels.ts and the GRU kernels of gru.ts. Only what is named here is exported from the module;
 * the helpers kernels.ts shares with gru.ts stay internal.
 */
export {
  scratchEnd,
  setScratch,
  gemmScratch,
  gemmScratchBytes,
  fusedMultiplyAdd,
  gemm,
  packPanels,
  fillBias,
  addColumnSums,
  mathTest,
  lstmCellForward,
  lstmCellBackward,
  lstmForwardSteps,
  lstmBackwardSteps,
} from "./kernels";
export {
  gruCellForward,
  gruCellBackward,
  gruForwardSteps,
  gruBackwardSteps,
  gruStepsWorkFloats,
} from "./gru";

// Fallback types for the benchmark's own dependencies when bench/node_modules is not installed
// (they are not in the library's install; see bench/deps.ts): every import of them is then
// `any`. With bench/node_modules installed, TypeScript resolves their real declarations first.
declare module "@tensorflow/tfjs";
declare module "@tensorflow/tfjs-backend-wasm";
declare module "brain.js";

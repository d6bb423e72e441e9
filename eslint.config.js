// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { importX } from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: "readonly",
        process: "readonly",
        performance: "readonly",
        URL: "readonly",
        Buffer: "readonly",
        WebAssembly: "readonly",
        setTimeout: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
      "prefer-const": "error",
    },
  },
  {
    // Functions take at most 6 parameters: more operands travel as named descriptors.
    files: ["src/**/*.ts", "cli/**/*.ts"],
    rules: { "max-params": ["error", 6] },
  },
  {
    // No import cycles: a module's dependencies form a tree that can be read bottom-up.
    files: ["src/**/*.ts", "cli/**/*.ts", "bench/**/*.ts", "test/**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      "import-x/resolver-next": [createTypeScriptImportResolver()],
    },
    rules: { "import-x/no-cycle": "error" },
  },
  {
    // The per-call path (layers, the step composition, the wasm adapters and jobs): no object
    // spread. V8 copies a spread generically; in these adapters it cost one-step inference (bench
    // workload D) a fifth of its time. Build descriptors as literals or add fields by assignment.
    files: [
      "src/layers/**/*.ts",
      "src/backend/steps.ts",
      "src/backend/kernels.ts",
      "src/backend/wasm/index.ts",
      "src/backend/wasm/memory.ts",
      "src/backend/wasm/jobs.ts",
    ],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "ObjectExpression > SpreadElement",
          message:
            "no object spread on the per-call path (a generic copy in V8): write the fields out or assign them",
        },
      ],
    },
  },
  {
    // AssemblyScript: float constants are written with the digits of their f64 source.
    files: ["assembly/**/*.ts"],
    rules: { "no-loss-of-precision": "off", "@typescript-eslint/no-loss-of-precision": "off" },
  },
);

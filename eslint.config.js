// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
    // AssemblyScript: float constants are written with the digits of their f64 source.
    files: ["assembly/**/*.ts"],
    rules: { "no-loss-of-precision": "off", "@typescript-eslint/no-loss-of-precision": "off" },
  },
);

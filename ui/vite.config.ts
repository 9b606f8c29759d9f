import { defineConfig } from "vite";

// Preact through esbuild's automatic JSX runtime: no Babel plugin needed.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false, target: "es2020" },
});

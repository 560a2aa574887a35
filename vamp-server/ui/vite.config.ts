// Vite builds the UI into dist/, which build.rs embeds into the vamp binary. `npm run dev` serves it with
// hot reload and proxies /api to a running `vamp serve` (VAMP_URL, default http://127.0.0.1:8080).
import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

export default defineConfig({
  define: { __UI_VERSION__: JSON.stringify(pkg.version) },
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1200,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { '/api': { target: process.env.VAMP_URL ?? 'http://127.0.0.1:8080', changeOrigin: true } },
  },
});

import { defineConfig } from 'vite';

// Production builds only need JSX compiled, which esbuild (inside Vite) does on its own: the React
// plugin would add Babel and fast refresh, neither of which the served files need.
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      onwarn(warning, warn) {
        // zod's sources carry comments Rollup reports and drops; harmless, and not ours to fix.
        if (warning.code === 'INVALID_ANNOTATION') return;
        warn(warning);
      },
    },
  },
  server: { proxy: { '/api': { target: 'http://127.0.0.1:7070', ws: true } } },
});

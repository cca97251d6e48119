/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The console is served by the Python backend from oneapi/static; `npm run dev`
// proxies the API to a backend on localhost:3000 (override with ONEAPI_DEV_BACKEND).
const backend = process.env.ONEAPI_DEV_BACKEND || 'http://localhost:3000';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: '../oneapi/static',
    emptyOutDir: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      '/api': backend,
      '/v1': backend,
      '/mj': backend,
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});

/**
 * Tells Monaco where its web workers live. Must be evaluated before GraphiQL loads Monaco
 * (index.tsx imports this module first).
 *
 * esbuild cannot follow `new Worker(new URL('monaco-editor/…', import.meta.url))` like
 * webpack/vite can, so scripts/build-graphiql.js bundles each worker as its own classic
 * (IIFE) entry point next to index.js, and we resolve them relative to this module's URL —
 * which keeps working wherever the bundle is mounted (/graphiql, /graphiql/, a proxy prefix…).
 */

/** Worker label (as passed by Monaco / monaco-graphql) → file emitted by the build. */
const WORKER_FILES: Record<string, string> = {
  json: 'json.worker.js',
  graphql: 'graphql.worker.js',
};
const DEFAULT_WORKER_FILE = 'editor.worker.js'; // 'editorWorkerService' and anything else

interface MonacoEnvironmentLike {
  getWorker(workerId: string, label: string): Worker;
}

(globalThis as typeof globalThis & { MonacoEnvironment?: MonacoEnvironmentLike }).MonacoEnvironment = {
  getWorker(_workerId, label) {
    const file = WORKER_FILES[label] ?? DEFAULT_WORKER_FILE;
    return new Worker(new URL(`./${file}`, import.meta.url), { name: `monaco-${label}` });
  },
};

export {};

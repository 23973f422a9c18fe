#!/usr/bin/env node
/**
 * Bundles the self-hosted GraphiQL (web/graphiql/) into dist/graphiql/ with esbuild:
 *
 *   index.html            copied from web/graphiql/index.html (relative asset URLs)
 *   index.js / index.css  the app (ESM, code-split: Monaco, prettier… load lazily as chunk-*.js)
 *   *.worker.js           Monaco's editor/JSON workers and monaco-graphql's worker, as classic
 *                         IIFE scripts (esbuild cannot follow `new Worker(new URL(…))`, so they
 *                         are entry points of their own; web/graphiql/monaco-workers.ts finds them)
 *   assets/*              fonts referenced from CSS (loader `file`)
 *   *.LEGAL.txt           third-party license comments, moved out of the served JS/CSS
 *
 * Everything is local: the page must work without network access beyond its own origin.
 * Output is written to a temporary directory and swapped in at the end, so a running server
 * never sees a half-written bundle.
 *
 * Usage: node scripts/build-graphiql.js [--outdir <dir>]
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'web', 'graphiql');
const DEFAULT_OUTDIR = path.join(ROOT, 'dist', 'graphiql');

/** Monaco worker entry points: output name → module (see web/graphiql/monaco-workers.ts). */
const WORKERS = {
  'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
  'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
  'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
};

/**
 * Monaco's ESM sources `import './foo.css'` from JS. graphiql/style.css already ships that same
 * Monaco 0.52 CSS (flattened, fonts inlined), so bundling it again would only add ~190 KiB of
 * duplicate rules to index.css and one orphan .css file per lazy chunk. Drop the JS-side copies.
 */
const dropMonacoCss = {
  name: 'drop-monaco-css',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]monaco-editor[\\/].*\.css$/ }, () => ({
      contents: '',
      loader: 'empty',
    }));
  },
};

/** Options shared by the app build and the worker build. */
const COMMON = {
  absWorkingDir: ROOT,
  bundle: true,
  minify: true,
  platform: 'browser',
  target: ['es2020'],
  tsconfig: path.join(SRC, 'tsconfig.json'),
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'external',
  charset: 'utf8',
  metafile: true,
  logLevel: 'warning',
};

/**
 * Builds the bundle into `outdir` (replacing it). Resolves with a summary; rejects on error.
 * @param {{ outdir?: string }} [options]
 */
async function buildGraphiql({ outdir = DEFAULT_OUTDIR } = {}) {
  const started = process.hrtime.bigint();
  const tmp = `${outdir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });

  try {
    const [app, workers] = await Promise.all([
      esbuild.build({
        ...COMMON,
        entryPoints: [{ in: path.join(SRC, 'index.tsx'), out: 'index' }],
        outdir: tmp,
        format: 'esm',
        splitting: true, // the dynamic import()s in @graphiql/react become lazy chunks
        jsx: 'automatic',
        chunkNames: '[name]-[hash]', // flat: worker URLs are resolved relative to index.js
        assetNames: 'assets/[name]-[hash]',
        loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file', '.eot': 'file', '.svg': 'file' },
        plugins: [dropMonacoCss],
      }),
      esbuild.build({
        ...COMMON,
        entryPoints: Object.entries(WORKERS).map(([out, input]) => ({ in: input, out })),
        outdir: tmp,
        format: 'iife', // classic workers: `new Worker(url)` without { type: 'module' }
      }),
    ]);
    fs.copyFileSync(path.join(SRC, 'index.html'), path.join(tmp, 'index.html'));

    // Swap in the fresh bundle.
    fs.rmSync(outdir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(outdir), { recursive: true });
    fs.renameSync(tmp, outdir);

    const outputs = { ...app.metafile.outputs, ...workers.metafile.outputs };
    const files = Object.entries(outputs).map(([file, { bytes }]) => ({
      file: path.relative(tmp, path.resolve(ROOT, file)),
      bytes,
    }));
    const totalBytes = files.reduce((sum, f) => sum + f.bytes, 0);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    return { outdir, files, totalBytes, ms };
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

async function main() {
  const i = process.argv.indexOf('--outdir');
  const outdir = i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : DEFAULT_OUTDIR;
  const { files, totalBytes, ms } = await buildGraphiql({ outdir });
  const notable = files
    .filter((f) => !/^chunk-/.test(f.file) && !f.file.endsWith('.LEGAL.txt'))
    .sort((a, b) => a.file.localeCompare(b.file));
  for (const f of notable) console.log(`  ${f.file.padEnd(40)} ${kib(f.bytes).padStart(12)}`);
  const chunks = files.filter((f) => /^chunk-/.test(f.file));
  const chunkBytes = chunks.reduce((sum, f) => sum + f.bytes, 0);
  console.log(`  ${`${chunks.length} lazy chunks (chunk-*.js)`.padEnd(40)} ${kib(chunkBytes).padStart(12)}`);
  console.log(`GraphiQL built into ${path.relative(process.cwd(), outdir) || '.'}: ${kib(totalBytes)} in ${(ms / 1000).toFixed(1)}s`);
}

module.exports = { buildGraphiql };

if (require.main === module) {
  main().catch((err) => {
    // esbuild has already printed its diagnostics (logLevel 'warning').
    if (!err || !Array.isArray(err.errors)) console.error(err);
    process.exitCode = 1;
  });
}

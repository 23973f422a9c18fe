#!/usr/bin/env node
/**
 * Bundles the live dashboard (web/dashboard/) into dist/dashboard/ with esbuild:
 *
 *   index.html                  web/dashboard/index.html with the hashed asset names filled in
 *   index-<hash>.js / .css      the app (React 19, uPlot, the typed jobwire client), one ESM file each
 *   index-<hash>.js.LEGAL.txt   third-party license comments, moved out of the served JS/CSS
 *
 * Asset names carry a content hash so the server can let browsers keep them (src/server/dashboard.ts);
 * index.html names them with relative URLs. Everything is local: the page must work without
 * network access beyond its own origin. Output is written to a temporary directory and swapped in
 * at the end, so a running server never sees a half-written bundle.
 *
 * Usage: node scripts/build-dashboard.js [--outdir <dir>]
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'web', 'dashboard');
const DEFAULT_OUTDIR = path.join(ROOT, 'dist', 'dashboard');

/**
 * Builds the bundle into `outdir` (replacing it). Resolves with a summary; rejects on error.
 * @param {{ outdir?: string }} [options]
 */
async function buildDashboard({ outdir = DEFAULT_OUTDIR } = {}) {
  const started = process.hrtime.bigint();
  const tmp = `${outdir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [{ in: path.join(SRC, 'index.tsx'), out: 'index' }],
      outdir: tmp,
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2020'],
      jsx: 'automatic',
      tsconfig: path.join(SRC, 'tsconfig.json'),
      entryNames: '[name]-[hash]',
      assetNames: 'assets/[name]-[hash]',
      define: { 'process.env.NODE_ENV': '"production"' },
      legalComments: 'external',
      charset: 'utf8',
      metafile: true,
      logLevel: 'warning',
    });
    const outputs = Object.entries(result.metafile.outputs).map(([file, { bytes }]) => ({
      file: path.relative(tmp, path.resolve(ROOT, file)),
      bytes,
    }));
    const named = (ext) => {
      const found = outputs.find((o) => /^index-[A-Z0-9]{8}\./.test(o.file) && o.file.endsWith(ext));
      if (!found) throw new Error(`build-dashboard: esbuild wrote no index-*${ext}`);
      return `./${found.file}`;
    };
    const template = fs.readFileSync(path.join(SRC, 'index.html'), 'utf8');
    const html = template.replace('./index.css', named('.css')).replace('./index.js', named('.js'));
    fs.writeFileSync(path.join(tmp, 'index.html'), html);

    fs.rmSync(outdir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(outdir), { recursive: true });
    fs.renameSync(tmp, outdir);

    const totalBytes = outputs.reduce((sum, f) => sum + f.bytes, 0);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    return { outdir, files: outputs, totalBytes, ms };
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

async function main() {
  const i = process.argv.indexOf('--outdir');
  const outdir = i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : DEFAULT_OUTDIR;
  const { files, totalBytes, ms } = await buildDashboard({ outdir });
  for (const f of files.filter((f) => !f.file.endsWith('.LEGAL.txt'))) console.log(`  ${f.file.padEnd(40)} ${kib(f.bytes).padStart(12)}`);
  console.log(`Dashboard built into ${path.relative(process.cwd(), outdir) || '.'}: ${kib(totalBytes)} in ${(ms / 1000).toFixed(1)}s`);
}

module.exports = { buildDashboard };

if (require.main === module) {
  main().catch((err) => {
    // esbuild has already printed its diagnostics (logLevel 'warning').
    if (!err || !Array.isArray(err.errors)) console.error(err);
    process.exitCode = 1;
  });
}

// Jest transform for PGlite's CommonJS bundle: it loads Node built-ins with dynamic import(),
// which jest's CommonJS runtime refuses without --experimental-vm-modules (pglite issue 224).
// Rewrite each `import("x")` to a require of the same module, through a handle on jest's own
// require taken at the top (the emscripten glue later declares a `var require` of its own).
module.exports = {
  process(source) {
    const code = source.replace(/\bimport\(\s*(["'][^"']+["'])\s*\)/g, 'Promise.resolve().then(() => __jestRequire($1))');
    return { code: `const __jestRequire = require;\n${code}` };
  },
  getCacheKey(source, filename) {
    return require('crypto').createHash('sha1').update('pglite-transform-v1').update(filename).update(source).digest('hex');
  },
};

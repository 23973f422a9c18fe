#!/usr/bin/env node
// The `jobwire` bin (package.json "bin"; `npm ci` links it as node_modules/.bin/jobwire, `npx jobwire`
// runs it). It loads the compiled CLI, which `npm run build` (or `npm start`) makes.
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(`jobwire: the command line is not built yet: run \`npm run build\` in ${path.join(__dirname, '..')}\n`);
  process.exit(9);
}
require(entry);

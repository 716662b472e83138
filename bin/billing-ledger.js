#!/usr/bin/env node
// Runs the compiled CLI when built, else the TypeScript sources through tsx.
const path = require('node:path');
const fs = require('node:fs');
const built = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (fs.existsSync(built)) {
  require(built);
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'src', 'cli', 'main.ts'));
}

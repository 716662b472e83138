#!/usr/bin/env node
// Runs the compiled CLI (dist/, from `npm run build`) when it is at least as new as every file
// in src/; otherwise the TypeScript sources through tsx, so a stale build is never run.
const path = require('node:path');
const fs = require('node:fs');

const root = path.join(__dirname, '..');
const built = path.join(root, 'dist', 'cli', 'main.js');
const stamp = path.join(root, 'dist', '.built');
const sources = path.join(root, 'src');

function newestMtimeMs(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtimeMs(file) : fs.statSync(file).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

function builtIsFresh() {
  if (!fs.existsSync(built) || !fs.existsSync(stamp)) return false;
  // A package shipped without its sources has only dist/ to run.
  if (!fs.existsSync(sources)) return true;
  return fs.statSync(stamp).mtimeMs >= newestMtimeMs(sources);
}

if (builtIsFresh()) {
  require(built);
} else {
  if (fs.existsSync(built))
    process.stderr.write(
      'billing-ledger: dist/ is older than src/; running the sources (npm run build to refresh)\n',
    );
  require('tsx/cjs');
  require(path.join(sources, 'cli', 'main.ts'));
}

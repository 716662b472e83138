// npm run build: a clean dist/ from src/, with the files the code reads at run time beside it
// (the plan catalogue, the SQL migrations), so `node dist/cli/main.js` runs from any directory.
import { cpSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');
const assets = /\.(json|sql)$/;

rmSync(dist, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);

let copied = 0;
(function copyAssets(dir) {
  for (const name of readdirSync(dir)) {
    const from = path.join(dir, name);
    if (statSync(from).isDirectory()) copyAssets(from);
    else if (assets.test(name)) {
      cpSync(from, path.join(dist, path.relative(src, from)));
      copied += 1;
    }
  }
})(src);

// bin/billing-ledger.js runs dist/ only when this stamp is newer than every source file.
writeFileSync(path.join(dist, '.built'), `${new Date().toISOString()}\n`);
process.stdout.write(`built dist/ (${copied} asset files copied)\n`);

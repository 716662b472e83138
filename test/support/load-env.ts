import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Integration tests use the stack that infra/local/stack.sh runs: take its defaults from
 * infra/local/env.sh (one source of truth), without overriding what the caller set.
 */
const envFile = path.join(__dirname, '..', '..', 'infra', 'local', 'env.sh');
for (const line of readFileSync(envFile, 'utf8').split('\n')) {
  const match = /^:\s+"\$\{(\w+):=(.*)\}"\s*$/.exec(line.trim());
  if (match?.[1] && process.env[match[1]] === undefined) process.env[match[1]] = match[2];
}
process.env.LOG_LEVEL ??= 'warn';

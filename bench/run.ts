/**
 * `npm run bench [scenario...]`: runs the named scenarios (all when none are named) and prints
 * their figures. A scenario is a file bench/scenarios/<name>.ts whose default export is a
 * BenchScenario; adding the file is all it takes to register it.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export interface BenchFigure {
  metric: string;
  value: number;
  unit: string;
  /** How it was measured (counts, sizes, concurrency). */
  detail?: string;
}

export interface BenchScenario {
  description: string;
  run(log: (line: string) => void): Promise<BenchFigure[]>;
}

/** Runs `work`, which does `count` operations, and gives their rate per second. */
export async function perSecond(count: number, work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return count / ((performance.now() - started) / 1000);
}

const scenariosDir = path.join(__dirname, 'scenarios');

function available(): string[] {
  return readdirSync(scenariosDir)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => file.slice(0, -'.ts'.length))
    .sort();
}

async function load(name: string): Promise<BenchScenario> {
  const module = (await import(path.join(scenariosDir, `${name}.ts`))) as { default?: BenchScenario };
  if (!module.default) throw new Error(`bench/scenarios/${name}.ts has no default export`);
  return module.default;
}

function table(figures: BenchFigure[]): string {
  const rows = [
    ['metric', 'value', 'unit', 'how'],
    ...figures.map((f) => [f.metric, formatNumber(f.value), f.unit, f.detail ?? '']),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]): string =>
    row
      .map((cell, c) => (c === 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function formatNumber(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: value < 100 ? 2 : 0 });
}

async function main(args: string[]): Promise<number> {
  const names = available();
  const unknown = args.filter((arg) => !names.includes(arg));
  if (unknown.length > 0) {
    console.error(`Unknown bench scenario(s): ${unknown.join(', ')}. Available: ${names.join(', ')}`);
    return 2;
  }
  for (const name of args.length > 0 ? args : names) {
    const scenario = await load(name);
    console.log(`\n== ${name}: ${scenario.description}`);
    const figures = await scenario.run((line) => console.log(`   ${line}`));
    console.log(table(figures));
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** The tier catalogue is configuration, not code (ARCHITECTURE.md, "Tiers"). */

const limit = z.number().int().nonnegative().nullable(); // null = unlimited
const limits = z.record(z.string().regex(/^[a-z0-9_]+$/), limit);
const tierName = z.string().regex(/^[a-z0-9_]+$/);

const catalogSchema = z
  .object({
    version: z.literal(1),
    tiers: z.record(
      tierName,
      z.object({ rank: z.number().int().positive(), features: z.array(z.string().min(1)), limits }),
    ),
    trial: z.object({ excludedFeatures: z.array(z.string()), limits }),
    prices: z.record(z.string().min(1), tierName).default({}),
    lookupKeys: z.record(z.string().min(1), tierName).default({}),
  })
  .superRefine((catalog, ctx) => {
    for (const [source, map] of [
      ['prices', catalog.prices],
      ['lookupKeys', catalog.lookupKeys],
    ] as const) {
      for (const [key, tier] of Object.entries(map)) {
        if (!catalog.tiers[tier]) {
          ctx.addIssue({ code: 'custom', path: [source, key], message: `unknown tier "${tier}"` });
        }
      }
    }
  });

export type PlanCatalog = z.output<typeof catalogSchema>;
export type Limits = Record<string, number | null>;

export interface PriceRef {
  priceId: string;
  lookupKey?: string | null;
  priceMetadata?: Record<string, string> | null;
}

export function parseCatalog(raw: unknown, source = 'catalogue'): PlanCatalog {
  const result = catalogSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new Error(`Invalid plan catalogue ${source}: ${problems}`);
  }
  return result.data;
}

export const DEFAULT_CATALOG_PATH = path.join(__dirname, 'plan-catalog.json');

export function loadCatalog(file: string = DEFAULT_CATALOG_PATH): PlanCatalog {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read plan catalogue ${file}: ${(error as Error).message}`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`Plan catalogue ${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseCatalog(raw, file);
}

/** Price id, then the price's lookup_key, then `metadata.tier` (CONTRACTS.md). */
export function tierForPrice(catalog: PlanCatalog, price: PriceRef): string | null {
  const byId = catalog.prices[price.priceId];
  if (byId) return byId;
  const byLookup = price.lookupKey ? catalog.lookupKeys[price.lookupKey] : undefined;
  if (byLookup) return byLookup;
  const byMetadata = price.priceMetadata?.tier;
  if (byMetadata && catalog.tiers[byMetadata]) return byMetadata;
  return null;
}

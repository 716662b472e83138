/**
 * Words for audit summaries. Money is integer minor units: it is split into whole and
 * fraction with bigint division and remainder, never through a float.
 */

export interface MoneyLike {
  amount: number;
  currency: string;
}

/** Stripe's zero- and three-decimal currencies; every other currency has two minor digits. */
const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);
/** Symbols only where they are unambiguous with the code beside them; the code is always written. */
const SYMBOLS: Record<string, string> = { usd: '$', eur: '€', gbp: '£', jpy: '¥' };

export function minorDigits(currency: string): number {
  const code = currency.toLowerCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2;
}

const groupThousands = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** `$1,234.50`: the amount with its symbol, without the code. */
export function formatAmount(money: MoneyLike): string {
  const minor = BigInt(money.amount);
  const negative = minor < 0n;
  const abs = negative ? -minor : minor;
  const digits = minorDigits(money.currency);
  const factor = 10n ** BigInt(digits);
  const whole = groupThousands((abs / factor).toString());
  const fraction = digits > 0 ? `.${(abs % factor).toString().padStart(digits, '0')}` : '';
  return `${negative ? '-' : ''}${SYMBOLS[money.currency.toLowerCase()] ?? ''}${whole}${fraction}`;
}

/** `$49.00 USD` */
export const formatMoney = (money: MoneyLike): string =>
  `${formatAmount(money)} ${money.currency.toUpperCase()}`;

/** `$49.00 → $99.00 USD`, or `$49.00 USD → €45.00 EUR` when the currency changed too. */
export function formatMoneyChange(before: MoneyLike, after: MoneyLike): string {
  if (before.currency.toLowerCase() === after.currency.toLowerCase()) {
    return `${formatAmount(before)} → ${formatAmount(after)} ${after.currency.toUpperCase()}`;
  }
  return `${formatMoney(before)} → ${formatMoney(after)}`;
}

/** Basis points as a percentage: 2500 -> `25%`, 1250 -> `12.5%`. */
export function formatPercentBps(bps: number): string {
  const whole = Math.trunc(bps / 100);
  const rest = (bps % 100).toString().padStart(2, '0').replace(/0+$/, '');
  return `${whole}${rest ? `.${rest}` : ''}%`;
}

export interface ItemLike {
  priceId: string;
  quantity: number;
}

/** `price_basic_monthly ×1, price_seats ×5`, or `no items`. */
export function formatItems(items: readonly ItemLike[]): string {
  if (items.length === 0) return 'no items';
  return items.map((item) => `${item.priceId} ×${item.quantity}`).join(', ');
}

/** A value in a `before → after` phrase: strings as they are, nothing as `none`. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined || value === '') return 'none';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') {
    const parts = Object.values(value as Record<string, unknown>).filter(
      (part) => part !== null && part !== '',
    );
    return parts.length > 0 ? parts.map(String).join(', ') : 'none';
  }
  return String(value);
}

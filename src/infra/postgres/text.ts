/** PostgreSQL text and jsonb cannot hold U+0000: it becomes U+FFFD rather than failing a write forever. */
export function postgresText(value: string): string {
  return value.replaceAll('\u0000', '\uFFFD');
}

/** JSON for a jsonb parameter, with every string made storable (see postgresText). */
export function postgresJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? postgresText(v) : v));
}

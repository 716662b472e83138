import type { RequestHandler } from 'express';
import { timingSafeEqual } from 'node:crypto';
import type { ApiKey } from '../config/config';
import { HttpError } from './http-error';

function sameKey(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Query API keys: `Authorization: Bearer <key>`; 401 when missing or unknown, 403 for the wrong scope. */
export function requireScope(keys: ApiKey[], scope: string): RequestHandler {
  return (req, _res, next) => {
    const header = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1])
      throw new HttpError(401, 'AUTH.MISSING_KEY', 'Send an API key as "Authorization: Bearer <key>".');
    const key = keys.find((candidate) => sameKey(candidate.key, match[1] as string));
    if (!key) throw new HttpError(401, 'AUTH.UNKNOWN_KEY', 'The API key is not recognised.');
    if (!key.scopes.includes('*') && !key.scopes.includes(scope)) {
      throw new HttpError(403, 'AUTH.WRONG_SCOPE', `The API key lacks the "${scope}" scope.`);
    }
    next();
  };
}

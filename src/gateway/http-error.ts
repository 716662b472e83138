import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../shared/logger';

/** Errors are JSON with `error` (a sentence) and `code` (stable) and the right status (CONTRACTS.md). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Domain error codes that map to something other than 422. */
const domainStatus: Record<string, number> = {
  'EVENT_STORE.WRONG_EXPECTED_REVISION': 409,
};

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    if (error instanceof HttpError) {
      res.status(error.status).json({ error: error.message, code: error.code, details: error.details });
      return;
    }
    // body-parser errors carry `type` and `status`.
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') {
      res.status(413).json({ error: 'Request body is too large.', code: 'REQUEST.TOO_LARGE' });
      return;
    }
    if (type === 'entity.parse.failed') {
      res.status(400).json({ error: 'Request body is not valid JSON.', code: 'REQUEST.MALFORMED_JSON' });
      return;
    }
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && error.name === 'DomainError') {
      res.status(domainStatus[code] ?? 422).json({ error: error.message, code });
      return;
    }
    if (typeof code === 'string' && domainStatus[code]) {
      res.status(domainStatus[code]).json({ error: error.message, code });
      return;
    }
    logger.error({ err: error }, 'unhandled error');
    res.status(500).json({ error: 'Internal error.', code: 'INTERNAL' });
  };
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: `No route for ${req.method} ${req.path}.`, code: 'ROUTE.NOT_FOUND' });
};

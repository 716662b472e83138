import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from '../shared/logger';
import { errorHandler, notFound } from './http-error';

/** The express app: routers in order, JSON errors, nothing else. */
export function createGatewayApp(
  routers: Router[],
  logger: Logger,
  middleware: RequestHandler[] = [],
): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  for (const handler of middleware) app.use(handler);
  for (const router of routers) app.use(router);
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}

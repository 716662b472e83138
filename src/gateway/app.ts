import express, { type Express, type Router } from 'express';
import type { Logger } from '../shared/logger';
import { errorHandler, notFound } from './http-error';

/** The express app: routers in order, JSON errors, nothing else. */
export function createGatewayApp(routers: Router[], logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  for (const router of routers) app.use(router);
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}

import express, { type Router } from 'express';
import Stripe from 'stripe';
import { z } from 'zod';
import type { Logger } from '../shared/logger';
import { HttpError } from './http-error';

/** What the route needs: a place to store deliveries durably, and a nudge for the worker. */
export interface WebhookInbox {
  store(entry: {
    stripeEventId: string;
    eventType: string;
    payload: Record<string, unknown>;
    stripeCreated: Date;
  }): Promise<boolean>;
}

const envelope = z.object({
  id: z.string().regex(/^evt_\w+$/, 'must be a Stripe event id (evt_...)'),
  object: z.literal('event').optional(),
  type: z.string().regex(/^[a-z_]+(\.[a-z_]+)+$/, 'must be a Stripe event type'),
  created: z.number().int().positive(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

export interface StripeWebhookOptions {
  secrets: string[];
  maxBodyBytes: number;
  inbox: WebhookInbox;
  logger: Logger;
  onStored?: () => void;
  /** Every delivery's result, for metrics. */
  onResult?: (result: 'stored' | 'duplicate' | 'rejected') => void;
  /** Signature tolerance in seconds (Stripe's default is 300). */
  toleranceSeconds?: number;
}

/**
 * POST /webhooks/stripe. Verifies `Stripe-Signature` against the raw body with any of the
 * configured secrets (rotation), stores the raw event in the inbox, and answers 2xx only then.
 */
export function stripeWebhookRouter(options: StripeWebhookOptions): Router {
  const router = express.Router();
  const signatures = Stripe.webhooks.signature;
  if (!signatures) throw new Error('The stripe SDK does not expose webhook signature verification');

  router.post(
    '/webhooks/stripe',
    (req, res, next) => {
      // Count deliveries rejected anywhere below, the body parser's 413 included.
      res.once('finish', () => {
        if (res.statusCode >= 400) options.onResult?.('rejected');
      });
      next();
    },
    express.raw({ type: () => true, limit: options.maxBodyBytes }),
    async (req, res) => {
      const signature = req.header('stripe-signature');
      if (!signature)
        throw new HttpError(400, 'WEBHOOK.MISSING_SIGNATURE', 'The Stripe-Signature header is missing.');
      const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (raw.length === 0) throw new HttpError(400, 'WEBHOOK.EMPTY_BODY', 'The request body is empty.');

      const verified = options.secrets.some((secret) => {
        try {
          signatures.verifyHeader(raw, signature, secret, options.toleranceSeconds ?? 300);
          return true;
        } catch {
          return false;
        }
      });
      if (!verified) {
        options.logger.warn({ ip: req.ip }, 'stripe webhook with an invalid signature');
        throw new HttpError(
          400,
          'WEBHOOK.INVALID_SIGNATURE',
          'The Stripe-Signature does not match the body with any configured secret.',
        );
      }

      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(400, 'WEBHOOK.MALFORMED_JSON', 'The webhook body is not valid JSON.');
      }
      const parsed = envelope.safeParse(json);
      if (!parsed.success) {
        throw new HttpError(
          400,
          'WEBHOOK.MALFORMED_EVENT',
          'The webhook body is not a Stripe event: ' +
            parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; '),
        );
      }

      const stored = await options.inbox.store({
        stripeEventId: parsed.data.id,
        eventType: parsed.data.type,
        payload: json as Record<string, unknown>,
        stripeCreated: new Date(parsed.data.created * 1000),
      });
      if (stored) options.onStored?.();
      options.onResult?.(stored ? 'stored' : 'duplicate');
      options.logger.info(
        { stripeEventId: parsed.data.id, type: parsed.data.type, duplicate: !stored },
        'stripe webhook stored',
      );
      res.status(200).json({ received: true, duplicate: !stored });
    },
  );
  return router;
}

import { Global, Injectable, Module } from '@nestjs/common';
import type { Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProblemCode } from './http-problems';

/** Why a verification ended as it did: `valid`, a refusal code, or `THROTTLED` (429 for failures). */
export type VerificationOutcome = 'valid' | ProblemCode | 'THROTTLED';

/**
 * The service's Prometheus metrics, in a registry of its own (one per application, so two in
 * one process never collide). No label ever holds a tenant, a key name, a token or a hash:
 * routes are labelled by their pattern (`/api/:tenantId/admin/apiKeys`), never by the URL.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer a request, by route pattern, method and status class.',
    labelNames: ['route', 'method', 'status_class'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly verifications = new Counter({
    name: 'api_key_verifications_total',
    help: 'Answers of /auth/verify, by outcome (valid, or why not).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'auth_failures_total',
    help: 'Credentials presented that did not authenticate (admin API and /auth/verify).',
    registers: [this.registry],
  });

  readonly authThrottled = new Counter({
    name: 'auth_throttled_total',
    help: 'Requests answered 429: the client address was past AUTH_FAILURE_LIMIT.',
    registers: [this.registry],
  });

  readonly leakReports = new Counter({
    name: 'leak_reports_total',
    help: 'Tokens secret scanners reported leaked, by label: true_positive (a key of ours) or false_positive.',
    labelNames: ['label'] as const,
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook POSTs, by result: delivered (2xx) or failed (retried with backoff).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly webhooksPending = new Gauge({
    name: 'webhook_events_pending',
    help: 'Audit lines not yet delivered to WEBHOOK_URL, over every tenant, at the last sweep.',
    registers: [this.registry],
  });

  readonly storeWrites = new Counter({
    name: 'key_store_writes_total',
    help: 'Writes to the key store (a rewrite of security.yml, a transaction), each holding one or more changes.',
    registers: [this.registry],
  });

  readonly changesPerWrite = new Histogram({
    name: 'key_store_changes_per_write',
    help: 'Changes that shared one write (group commit).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });

  readonly tenantCacheLookups = new Counter({
    name: 'tenant_cache_lookups_total',
    help: "Reads of a tenant's keys from the in-process cache: hit (still valid) or miss.",
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private readonly cacheSizes: Array<() => number> = [];

  constructor() {
    const sizes = this.cacheSizes;
    new Gauge({
      name: 'tenant_cache_entries',
      help: 'Entries held by the in-process key cache (tenants on YAML, keys on PostgreSQL).',
      registers: [this.registry],
      collect() {
        this.set(sizes.reduce((total, size) => total + size(), 0));
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Reports a cache's size as part of `tenant_cache_entries`, read at each scrape. */
  watchCache(size: () => number): void {
    this.cacheSizes.push(size);
  }

  /** One write of `changes` changes to the key store. */
  written(changes: number): void {
    this.storeWrites.inc();
    this.changesPerWrite.observe(changes);
  }

  /** A request answered in `seconds`, labelled by its route pattern (known by then). */
  answered(request: Request, response: Response, seconds: number): void {
    const route = request.route as { path?: unknown } | undefined;
    const pattern =
      typeof route?.path === 'string' ? `${request.baseUrl}${route.path}` : 'unmatched';
    this.requestDuration.observe(
      {
        route: pattern,
        method: request.method,
        status_class: `${Math.floor(response.statusCode / 100)}xx`,
      },
      seconds,
    );
  }
}

/** One Metrics for the whole application (server or CLI), injectable everywhere. */
@Global()
@Module({ providers: [Metrics], exports: [Metrics] })
export class MetricsModule {}

import { Injectable } from '@nestjs/common';
import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import type { ApiKey } from '../storage/api-key.record';
import { RateLimitStore } from '../storage/rate-limit.store';

/** A key's rate-limit window after a verification: what the RateLimit header fields say. */
export interface RateLimitState {
  readonly limit: number;
  readonly periodSeconds: number;
  /** Verifications left in the window. */
  readonly remaining: number;
  /** Seconds until the window ends and the count starts again. */
  readonly resetSeconds: number;
}

/**
 * The RateLimit header fields (IETF draft "RateLimit header fields for HTTP", the
 * `RateLimit-Limit` / `-Remaining` / `-Reset` form) and the policy they report.
 */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'RateLimit-Limit': String(state.limit),
    'RateLimit-Remaining': String(state.remaining),
    'RateLimit-Reset': String(state.resetSeconds),
    'RateLimit-Policy': `${state.limit};w=${state.periodSeconds}`,
  };
}

/**
 * Counts each verification of a key that has a `rateLimit` (fixed windows of `periodSeconds`,
 * rate-limiter-flexible), in the counters the storage shares. A key whose limit is changed
 * counts afresh under the new one.
 */
@Injectable()
export class KeyRateLimiter {
  /** One limiter per limit and period in use: each key is a counter within it. */
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(private readonly store: RateLimitStore) {}

  /**
   * Counts one verification of the key in `tenantId`: whether it was within the limit, and the
   * window as it left it. Undefined for a key without a rate limit.
   */
  async take(
    tenantId: string,
    key: ApiKey,
  ): Promise<{ readonly allowed: boolean; readonly state: RateLimitState } | undefined> {
    const rule = key.rateLimit;
    if (!rule) return undefined;
    const id = `${rule.limit}/${rule.periodSeconds}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = this.store.limiter(rule.limit, rule.periodSeconds);
      this.limiters.set(id, limiter);
    }
    let allowed = true;
    let result: RateLimiterRes;
    try {
      result = await limiter.consume(`${tenantId}\n${key.name}`);
    } catch (error) {
      // The library rejects with the window's state when the limit is reached.
      if (!(error instanceof RateLimiterRes)) throw error;
      result = error;
      allowed = false;
    }
    const state: RateLimitState = {
      limit: rule.limit,
      periodSeconds: rule.periodSeconds,
      remaining: result.remainingPoints,
      resetSeconds: Math.max(0, Math.ceil(result.msBeforeNext / 1000)),
    };
    return { allowed, state };
  }
}

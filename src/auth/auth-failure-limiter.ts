import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { LruCache } from '../common/lru-cache';
import { authConfig } from '../config/auth.config';

/** Addresses tracked at once; the least recently seen are forgotten beyond this. */
const MAX_TRACKED_CLIENTS = 100_000;

interface Window {
  readonly startedAt: number;
  /** Failed attempts, and attempts still being checked (each counted as a failure until it succeeds). */
  failures: number;
}

/**
 * Counts failed authentications per client address in fixed windows of AUTH_FAILURE_WINDOW
 * seconds. Past AUTH_FAILURE_LIMIT failures the address is refused until its window ends.
 * An attempt counts as a failure from the moment it is admitted, so that concurrent guesses
 * can never get more checks than the limit; one that authenticates gives its count back, so
 * callers that authenticate are never slowed.
 */
@Injectable()
export class AuthFailureLimiter {
  private readonly windows = new LruCache<string, Window>(MAX_TRACKED_CLIENTS);
  private readonly limit: number;
  private readonly windowMs: number;

  constructor(
    @Inject(authConfig.KEY)
    config: Pick<ConfigType<typeof authConfig>, 'failureLimit' | 'failureWindowSeconds'>,
  ) {
    this.limit = config.failureLimit;
    this.windowMs = config.failureWindowSeconds * 1000;
  }

  private current(client: string): Window | undefined {
    const window = this.windows.get(client);
    return window && Date.now() - window.startedAt < this.windowMs ? window : undefined;
  }

  /**
   * Admits one attempt from `client`, counting it as a failure until `succeeded` says
   * otherwise; or, past the limit, returns the seconds until it may try again.
   */
  admit(client: string): number | undefined {
    const retryAfter = this.blockedFor(client);
    if (retryAfter !== undefined) return retryAfter;
    const window = this.current(client);
    if (window) window.failures++;
    else this.windows.set(client, { startedAt: Date.now(), failures: 1 });
    return undefined;
  }

  /** Seconds until `client` may try again, or undefined when it may now. Counts nothing. */
  blockedFor(client: string): number | undefined {
    const window = this.current(client);
    if (!window || window.failures < this.limit) return undefined;
    return Math.max(1, Math.ceil((window.startedAt + this.windowMs - Date.now()) / 1000));
  }

  /** The admitted attempt authenticated (or failed for a reason that is not the client's). */
  succeeded(client: string): void {
    const window = this.current(client);
    if (window && window.failures > 0) window.failures--;
  }
}

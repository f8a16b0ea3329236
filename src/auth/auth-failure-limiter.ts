import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { LruCache } from '../common/lru-cache';
import { authConfig } from '../config/auth.config';

/** Addresses tracked at once; the least recently seen are forgotten beyond this. */
const MAX_TRACKED_CLIENTS = 100_000;

interface Window {
  readonly startedAt: number;
  failures: number;
}

/**
 * Counts failed authentications per client address in fixed windows of AUTH_FAILURE_WINDOW
 * seconds. Past AUTH_FAILURE_LIMIT failures the address is refused until its window ends.
 * Only failures count: callers that authenticate are never slowed.
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
    if (window && Date.now() - window.startedAt >= this.windowMs) {
      this.windows.delete(client);
      return undefined;
    }
    return window;
  }

  /** Seconds until `client` may try again, or undefined when it may now. */
  retryAfter(client: string): number | undefined {
    const window = this.current(client);
    if (!window || window.failures < this.limit) return undefined;
    return Math.max(1, Math.ceil((window.startedAt + this.windowMs - Date.now()) / 1000));
  }

  recordFailure(client: string): void {
    const window = this.current(client);
    if (window) window.failures++;
    else this.windows.set(client, { startedAt: Date.now(), failures: 1 });
  }
}

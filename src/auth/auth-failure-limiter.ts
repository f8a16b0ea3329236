import { Inject, Injectable, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TooManyFailuresException } from '../common/http-problems';
import { LruCache } from '../common/lru-cache';
import { Metrics } from '../common/metrics';
import { authConfig } from '../config/auth.config';

/** Addresses tracked at once; the least recently seen are forgotten beyond this. */
const MAX_TRACKED_CLIENTS = 100_000;

interface Client {
  /** Start of the current window. */
  startedAt: number;
  /** Failed authentications in the current window. */
  failures: number;
  /** Attempts admitted and still being checked: each may yet be a failure. */
  inFlight: number;
  /** Attempts waiting for one of those to be decided. */
  readonly waiting: Array<() => void>;
}

/**
 * Counts failed authentications per client address in fixed windows of AUTH_FAILURE_WINDOW
 * seconds; past AUTH_FAILURE_LIMIT failures the address is refused until its window ends.
 * An attempt may be a failure until it is checked, so no more attempts are checked at once
 * than failures remain allowed: the others wait their turn (microseconds, for callers whose
 * credentials are good). Concurrent guesses therefore never get more checks than the limit,
 * and callers that authenticate are never refused.
 */
@Injectable()
export class AuthFailureLimiter {
  private readonly clients = new LruCache<string, Client>(MAX_TRACKED_CLIENTS);
  private readonly limit: number;
  private readonly windowMs: number;

  constructor(
    @Inject(authConfig.KEY)
    config: Pick<ConfigType<typeof authConfig>, 'failureLimit' | 'failureWindowSeconds'>,
    @Optional() private readonly metrics?: Metrics,
  ) {
    this.limit = config.failureLimit;
    this.windowMs = config.failureWindowSeconds * 1000;
  }

  private client(address: string): Client {
    let client = this.clients.get(address);
    if (!client) {
      client = { startedAt: Date.now(), failures: 0, inFlight: 0, waiting: [] };
      this.clients.set(address, client);
    } else if (Date.now() - client.startedAt >= this.windowMs) {
      client.startedAt = Date.now();
      client.failures = 0;
    }
    return client;
  }

  private retryAfter(client: Client): number {
    return Math.max(1, Math.ceil((client.startedAt + this.windowMs - Date.now()) / 1000));
  }

  /** Seconds until `address` may try again, or undefined when it may now. Counts nothing. */
  blockedFor(address: string): number | undefined {
    const client = this.clients.get(address);
    if (!client || Date.now() - client.startedAt >= this.windowMs) return undefined;
    return client.failures >= this.limit ? this.retryAfter(client) : undefined;
  }

  /**
   * Admits one attempt from `address` once it can no longer take the address past the limit,
   * or returns the seconds until it may try again. Every admitted attempt must be `settle`d.
   */
  async admit(address: string): Promise<number | undefined> {
    for (;;) {
      const client = this.client(address);
      if (client.failures >= this.limit) return this.retryAfter(client);
      if (client.failures + client.inFlight < this.limit) {
        client.inFlight++;
        return undefined;
      }
      await new Promise<void>((resolve) => client.waiting.push(resolve));
    }
  }

  /** The admitted attempt was decided: a failed authentication, or not. */
  settle(address: string, failed: boolean): void {
    const client = this.client(address);
    client.inFlight = Math.max(0, client.inFlight - 1);
    if (failed) client.failures++;
    for (const wake of client.waiting.splice(0)) wake();
  }

  /**
   * Runs one credential check from `address` under the limit: 429 (TooManyFailuresException)
   * when the address is past it, otherwise the check's outcome, counted as a failure when it
   * throws an error `isFailure` recognises.
   */
  async check<T>(
    address: string,
    attempt: () => Promise<T>,
    isFailure: (error: unknown) => boolean,
  ): Promise<T> {
    const retryAfter = await this.admit(address);
    if (retryAfter !== undefined) this.throttled(retryAfter);
    try {
      const result = await attempt();
      this.settle(address, false);
      return result;
    } catch (error) {
      const failed = isFailure(error);
      if (failed) this.metrics?.authFailures.inc();
      this.settle(address, failed);
      throw error;
    }
  }

  /** 429 when `address` is past the limit; for requests that present no credential at all. */
  assertNotBlocked(address: string): void {
    const retryAfter = this.blockedFor(address);
    if (retryAfter !== undefined) this.throttled(retryAfter);
  }

  private throttled(retryAfter: number): never {
    this.metrics?.authThrottled.inc();
    throw new TooManyFailuresException(retryAfter);
  }
}

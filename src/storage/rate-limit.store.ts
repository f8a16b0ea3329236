import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * Where rate-limit counters are kept (rate-limiter-flexible limiters, fixed windows): the port,
 * and its injection token. How far a count is shared is the storage's: PostgreSQL counts for
 * every replica at once, the others count in the process.
 */
export abstract class RateLimitStore {
  /** A limiter of `points` per `durationSeconds`; limiters of other sizes never share counts. */
  abstract limiter(points: number, durationSeconds: number): RateLimiterAbstract;
}

/** Counters in this process's memory: exact within it, and each process counts on its own. */
export class InProcessRateLimits extends RateLimitStore {
  limiter(points: number, durationSeconds: number): RateLimiterAbstract {
    return new RateLimiterMemory({ points, duration: durationSeconds });
  }
}

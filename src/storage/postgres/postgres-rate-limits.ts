import { Injectable } from '@nestjs/common';
import { type RateLimiterAbstract, RateLimiterPostgres } from 'rate-limiter-flexible';
import { RateLimitStore } from '../rate-limit.store';
import { PostgresDatabase } from './postgres-database';

/** The table migration 2 makes in rate-limiter-flexible's layout. */
const TABLE = 'api_key_rate_limits';

/**
 * Counters in PostgreSQL (rate-limiter-flexible's RateLimiterPostgres), so every replica counts
 * against one window: each verification is one atomic upsert of its key's row. The library
 * reaches the database through PostgresDatabase, so an outage is a 503 like any other query.
 */
@Injectable()
export class PostgresRateLimits extends RateLimitStore {
  private readonly client = {
    query: async (query: { text: string; values?: unknown[]; name?: string }) => {
      const rows = await this.db.query(query.text, query.values, query.name);
      return { rows, rowCount: rows.length };
    },
  };

  constructor(private readonly db: PostgresDatabase) {
    super();
  }

  limiter(points: number, durationSeconds: number): RateLimiterAbstract {
    return new RateLimiterPostgres({
      storeClient: this.client,
      storeType: 'client',
      tableName: TABLE,
      tableCreated: true,
      keyPrefix: `${points}/${durationSeconds}`,
      points,
      duration: durationSeconds,
    });
  }
}

import { Injectable } from '@nestjs/common';
import type { UsageRecord } from '../usage.store';
import { UsageStore } from '../usage.store';
import { PostgresDatabase } from './postgres-database';

/** Last-used times in `api_key_usage`, written in one statement per flush (a batch). */
@Injectable()
export class PostgresUsageStore extends UsageStore {
  constructor(private readonly db: PostgresDatabase) {
    super();
  }

  async read(tenantId: string): Promise<ReadonlyMap<string, UsageRecord>> {
    const rows = await this.db.query<{
      name: string;
      created_at: string | null;
      last_used_at: string;
    }>('SELECT name, created_at, last_used_at FROM api_key_usage WHERE tenant_id = $1', [tenantId]);
    return new Map(
      rows.map((row) => [
        row.name,
        {
          lastUsedAt: row.last_used_at,
          ...(row.created_at !== null && { createdAt: row.created_at }),
        },
      ]),
    );
  }

  async save(tenantId: string, uses: ReadonlyMap<string, UsageRecord>): Promise<void> {
    const entries = [...uses];
    // The later use of the same key wins; a use of a key re-created under the name replaces it.
    await this.db.query(
      `INSERT INTO api_key_usage (tenant_id, name, created_at, last_used_at)
       SELECT $1, u.name, u.created_at, u.last_used_at
         FROM unnest($2::text[], $3::text[], $4::text[]) AS u (name, created_at, last_used_at)
       ON CONFLICT (tenant_id, name) DO UPDATE SET
         last_used_at = CASE
           WHEN api_key_usage.created_at IS NOT DISTINCT FROM EXCLUDED.created_at
           THEN GREATEST(api_key_usage.last_used_at, EXCLUDED.last_used_at)
           ELSE EXCLUDED.last_used_at END,
         created_at = EXCLUDED.created_at`,
      [
        tenantId,
        entries.map(([name]) => name),
        entries.map(([, use]) => use.createdAt ?? null),
        entries.map(([, use]) => use.lastUsedAt),
      ],
    );
  }
}

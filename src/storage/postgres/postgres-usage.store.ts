import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { LruCache } from '../../common/lru-cache';
import type { UsageRecord } from '../usage.store';
import { USAGE_READ_REUSE_MS, UsageStore } from '../usage.store';
import { PostgresDatabase } from './postgres-database';

const CACHED_RECORDS = 10_000;

interface UsageRow {
  name: string;
  created_at: string | null;
  last_used_at: string;
}

const toRecord = (row: UsageRow): UsageRecord => ({
  lastUsedAt: row.last_used_at,
  ...(row.created_at !== null && { createdAt: row.created_at }),
});

/** Last-used times in `api_key_usage`, written in one statement per flush (a batch). */
@Injectable()
export class PostgresUsageStore extends UsageStore {
  /** One key's record (null: none) by `tenant\nname`, as read at `at`. */
  private readonly recent = new LruCache<string, { at: number; record: UsageRecord | null }>(
    CACHED_RECORDS,
  );
  /** Saves begun and ended, so that a read that overlapped one does not keep what it found. */
  private saves = 0;

  constructor(
    private readonly db: PostgresDatabase,
    private readonly clock: Clock,
  ) {
    super();
  }

  async read(
    tenantId: string,
    names?: readonly string[],
  ): Promise<ReadonlyMap<string, UsageRecord>> {
    if (names?.length !== 1) {
      const rows = await this.db.query<UsageRow>(
        'SELECT name, created_at, last_used_at FROM api_key_usage WHERE tenant_id = $1',
        [tenantId],
      );
      return new Map(rows.map((row) => [row.name, toRecord(row)]));
    }
    const [name] = names;
    const id = `${tenantId}\n${name}`;
    const now = this.clock.now();
    let entry = this.recent.get(id);
    if (!entry || now - entry.at >= USAGE_READ_REUSE_MS) {
      const saves = this.saves;
      const rows = await this.db.query<UsageRow>(
        'SELECT name, created_at, last_used_at FROM api_key_usage WHERE tenant_id = $1 AND name = $2',
        [tenantId, name],
        'api-key-usage-by-name',
      );
      entry = { at: now, record: rows.length > 0 ? toRecord(rows[0]) : null };
      if (saves === this.saves) this.recent.set(id, entry);
    }
    return new Map(entry.record ? [[name, entry.record]] : []);
  }

  async save(tenantId: string, uses: ReadonlyMap<string, UsageRecord>): Promise<void> {
    const entries = [...uses];
    this.saves++;
    try {
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
    } finally {
      // What this process wrote is read back from the database, not from before it.
      this.saves++;
      for (const [name] of entries) this.recent.delete(`${tenantId}\n${name}`);
    }
  }
}

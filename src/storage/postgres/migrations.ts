import type { PoolClient } from 'pg';
import { GENESIS_HASH } from '../audit-entry';

/** One schema change, applied once, in order of `version`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The schema, as versioned migrations. A small runner over a `schema_migrations` table rather
 * than a migration tool: a handful of statements, compiled into the service (so they run from
 * the sources and from the build alike), applied at start-up under an advisory lock.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tenants, keys, audit trail, last uses',
    sql: `
      CREATE TABLE tenants (
        id text PRIMARY KEY,
        sections jsonb NOT NULL DEFAULT '{}',
        audit_seq bigint NOT NULL DEFAULT 0,
        audit_hash text NOT NULL DEFAULT '${GENESIS_HASH}',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE api_keys (
        tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        name text NOT NULL,
        position bigserial,
        enabled boolean NOT NULL,
        permissions text[] NOT NULL,
        hash text NOT NULL,
        created_at text,
        updated_at text,
        expires_at text,
        hint text,
        previous_hash text,
        previous_hash_expires_at text,
        extra jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (tenant_id, name),
        UNIQUE (tenant_id, hash)
      );
      CREATE INDEX api_keys_previous_hash ON api_keys (tenant_id, previous_hash)
        WHERE previous_hash IS NOT NULL;
      CREATE TABLE audit_log (
        tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        seq bigint NOT NULL,
        line text NOT NULL,
        PRIMARY KEY (tenant_id, seq)
      );
      CREATE TABLE api_key_usage (
        tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        name text NOT NULL,
        created_at text,
        last_used_at text NOT NULL,
        PRIMARY KEY (tenant_id, name)
      );
    `,
  },
  {
    version: 2,
    name: 'key policies: owner, rate limit, credits, allowed addresses, meta',
    sql: `
      ALTER TABLE api_keys
        ADD COLUMN owner text,
        ADD COLUMN rate_limit jsonb,
        ADD COLUMN credits jsonb,
        ADD COLUMN allowed_ips text[],
        -- json, not jsonb: the platform receives its meta with the fields in its own order
        ADD COLUMN meta json;
      CREATE INDEX api_keys_owner ON api_keys (tenant_id, owner) WHERE owner IS NOT NULL;
      -- Credits spent: the balance of each key's current grant (see storage/credit-ledger.ts).
      CREATE TABLE api_key_credits (
        tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        name text NOT NULL,
        grant_id text NOT NULL,
        period bigint NOT NULL,
        remaining bigint NOT NULL,
        PRIMARY KEY (tenant_id, name)
      );
      -- rate-limiter-flexible's RateLimiterPostgres table, in its own layout.
      CREATE TABLE api_key_rate_limits (
        key varchar(255) PRIMARY KEY,
        points integer NOT NULL DEFAULT 0,
        expire bigint
      );
    `,
  },
  {
    version: 3,
    name: 'leaked keys: when reported, and lookups by hash across tenants',
    sql: `
      ALTER TABLE api_keys ADD COLUMN leaked_at text;
      CREATE INDEX api_keys_hash_any_tenant ON api_keys (hash);
      CREATE INDEX api_keys_previous_hash_any_tenant ON api_keys (previous_hash)
        WHERE previous_hash IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'webhook delivery: each tenant cursor into its audit trail',
    sql: `
      CREATE TABLE webhook_cursors (
        tenant_id text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
        delivered bigint NOT NULL DEFAULT 0,
        expiring jsonb NOT NULL DEFAULT '[]'
      );
      CREATE TABLE webhook_state (
        id integer PRIMARY KEY CHECK (id = 1),
        since text NOT NULL
      );
    `,
  },
];

/** Any fixed number: every replica takes this advisory lock to migrate, one at a time. */
const MIGRATION_LOCK = 8_427_113;

/** Applies the migrations not yet applied, each in its own transaction, under the advisory lock. */
export async function migrate(client: PoolClient, migrations = MIGRATIONS): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
        (row) => row.version,
      ),
    );
    const applied: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
          migration.version,
          migration.name,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
      applied.push(migration.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}

import { type BeforeApplicationShutdown, Injectable, Optional } from '@nestjs/common';
import DataLoader from 'dataloader';
import type { PoolClient } from 'pg';
import { Clock } from '../../common/clock';
import { Metrics } from '../../common/metrics';
import { ChangeFeed } from '../change-feed';
import {
  type ApiKey,
  type Credits,
  isTenantId,
  type KeyMeta,
  OPTIONAL_KEY_FIELDS,
  previousTokenValidUntil,
  withoutExpiredPreviousToken,
  type RateLimit,
} from '../api-key.record';
import { ApiKeysRepository, type DecideChange } from '../api-keys.repository';
import { chainLines } from '../audit-chain';
import { decideEach, GroupCommit, type PendingChange } from '../group-commit';
import type { AuditEvent } from '../audit-entry';
import { TenantChangedError, TenantExistsError, TenantNotFoundError } from '../storage.errors';
import { renderSecurityFile, type SecurityDocument, toStoredEntry } from '../yaml/security-file';
import { CHANGES_CHANNEL, KeyCache, type KeyLookup } from './key-cache';
import { PostgresDatabase } from './postgres-database';

interface KeyRow {
  name: string;
  enabled: boolean;
  permissions: string[];
  hash: string;
  created_at: string | null;
  updated_at: string | null;
  expires_at: string | null;
  hint: string | null;
  previous_hash: string | null;
  previous_hash_expires_at: string | null;
  owner: string | null;
  rate_limit: RateLimit | null;
  credits: Credits | null;
  allowed_ips: string[] | null;
  meta: KeyMeta | null;
  leaked_at: string | null;
  extra: Record<string, unknown>;
}

const KEY_COLUMNS =
  'name, enabled, permissions, hash, created_at, updated_at, expires_at, hint, previous_hash, previous_hash_expires_at, owner, rate_limit, credits, allowed_ips, meta, leaked_at, extra';
const KEY_COLUMN_COUNT = KEY_COLUMNS.split(', ').length;
/** Rows per INSERT: well under PostgreSQL's 65,535 parameters per statement. */
const ROWS_PER_INSERT = 1000;
/** `$2, $3, ...`: the placeholders of KEY_COLUMNS after the tenant's `$1`. */
const KEY_VALUES = KEY_COLUMNS.split(', ')
  .map((_column, i) => `$${i + 2}`)
  .join(', ');
/** One key to read: by its hash (authentication) or by its name. */
interface KeyRead {
  readonly tenantId: string;
  readonly kind: 'hash' | 'name';
  readonly value: string;
}

/** The same columns of the `api_keys` row joined as `k`. */
const JOINED_KEY_COLUMNS = KEY_COLUMNS.split(', ')
  .map((column) => `k.${column}`)
  .join(', ');
const KNOWN = new Set<string>(['name', 'enabled', 'permissions', 'hash', ...OPTIONAL_KEY_FIELDS]);

function toKey(row: KeyRow): ApiKey {
  const key: { -readonly [K in keyof ApiKey]: ApiKey[K] } = {
    name: row.name,
    enabled: row.enabled,
    permissions: row.permissions,
    hash: row.hash,
  };
  if (row.created_at !== null) key.createdAt = row.created_at;
  if (row.updated_at !== null) key.updatedAt = row.updated_at;
  if (row.expires_at !== null) key.expiresAt = row.expires_at;
  if (row.hint !== null) key.hint = row.hint;
  if (row.previous_hash !== null && row.previous_hash_expires_at !== null) {
    key.previousHash = row.previous_hash;
    key.previousHashExpiresAt = row.previous_hash_expires_at;
  }
  if (row.owner !== null) key.owner = row.owner;
  if (row.rate_limit !== null) {
    key.rateLimit = { limit: row.rate_limit.limit, periodSeconds: row.rate_limit.periodSeconds };
  }
  if (row.credits !== null) {
    // jsonb orders an object's fields its own way; a key lists them as the API does.
    const { remaining, refill } = row.credits;
    key.credits = refill
      ? { remaining, refill: { amount: refill.amount, intervalSeconds: refill.intervalSeconds } }
      : { remaining };
  }
  if (row.allowed_ips !== null) key.allowedIps = row.allowed_ips;
  if (row.meta !== null) key.meta = row.meta;
  if (row.leaked_at !== null) key.leakedAt = row.leaked_at;
  return key;
}

/** The columns of a key, for INSERT and UPDATE, in KEY_COLUMNS order after the tenant. */
function columnsOf(key: ApiKey, extra: Record<string, unknown> = {}): unknown[] {
  return [
    key.name,
    key.enabled,
    [...key.permissions],
    key.hash,
    key.createdAt ?? null,
    key.updatedAt ?? null,
    key.expiresAt ?? null,
    key.hint ?? null,
    key.previousHash ?? null,
    key.previousHashExpiresAt ?? null,
    key.owner ?? null,
    key.rateLimit ? JSON.stringify(key.rateLimit) : null,
    key.credits ? JSON.stringify(key.credits) : null,
    key.allowedIps ? [...key.allowedIps] : null,
    key.meta ? JSON.stringify(key.meta) : null,
    key.leakedAt ?? null,
    JSON.stringify(extra),
  ];
}

/** The fields of an entry the service does not know, kept for export. */
function extraOf(raw: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([name]) => !KNOWN.has(name)));
}

/**
 * Keys in PostgreSQL. Every read is a query (by hash: one indexed lookup), so a change that one
 * replica acknowledged is what every replica reads next. Every write is one transaction that
 * locks the tenant's row (so writes to a tenant, and its audit chain, are serialized across
 * replicas), decides on each key as it stands, writes them and their audit lines and moves
 * the chain's head anchored in the tenant's row; changes that arrive meanwhile share the next
 * transaction (group commit). Each is answered only after COMMIT.
 */
@Injectable()
export class PostgresApiKeysRepository
  extends ApiKeysRepository
  implements BeforeApplicationShutdown
{
  private readonly reads = new DataLoader(
    (lookups: readonly KeyRead[]) => this.readBatch(lookups),
    // No memo (every request reads afresh); a batch is what one turn of the loop brought in.
    { cache: false, batchScheduleFn: (dispatch) => setImmediate(dispatch), maxBatchSize: 256 },
  );
  private readonly writes = new GroupCommit(
    (tenantId, batch) => this.commit(tenantId, batch),
    (changes) => this.metrics?.written(changes),
  );

  constructor(
    private readonly db: PostgresDatabase,
    private readonly clock: Clock,
    @Optional() private readonly cache?: KeyCache,
    @Optional() private readonly metrics?: Metrics,
    @Optional() private readonly feed?: ChangeFeed,
  ) {
    super();
  }

  healthy(): Promise<boolean> {
    return this.db.healthy();
  }

  async createTenant(tenantId: string): Promise<void> {
    if (!isTenantId(tenantId)) throw new TenantNotFoundError(tenantId);
    const rows = await this.db.query(
      'INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING id',
      [tenantId],
    );
    if (rows.length === 0) throw new TenantExistsError(tenantId);
  }

  async list(tenantId: string): Promise<readonly ApiKey[]> {
    if (!isTenantId(tenantId)) throw new TenantNotFoundError(tenantId);
    const rows = await this.db.query<KeyRow & { tenant: string }>(
      `SELECT t.id AS tenant, ${JOINED_KEY_COLUMNS}
         FROM tenants t LEFT JOIN api_keys k ON k.tenant_id = t.id
        WHERE t.id = $1 ORDER BY k.position`,
      [tenantId],
    );
    if (rows.length === 0) throw new TenantNotFoundError(tenantId);
    return rows.filter((row) => row.name !== null).map(toKey);
  }

  findByName(tenantId: string, name: string): Promise<ApiKey | undefined> {
    return this.findOne({ tenantId, kind: 'name', value: name });
  }

  /** By either of its hashes (both indexed). */
  findByHash(tenantId: string, hash: string): Promise<ApiKey | undefined> {
    return this.findOne({ tenantId, kind: 'hash', value: hash });
  }

  async findEverywhereByHash(hash: string): Promise<Array<{ tenantId: string; key: ApiKey }>> {
    const rows = await this.db.query<KeyRow & { tenant_id: string }>(
      `SELECT tenant_id, ${KEY_COLUMNS} FROM api_keys WHERE hash = $1 OR previous_hash = $1
        ORDER BY tenant_id`,
      [hash],
    );
    return rows.map((row) => ({ tenantId: row.tenant_id, key: toKey(row) }));
  }

  /**
   * The key a lookup finds (with AUTH_CACHE_MS, from a copy no older than that when there is
   * one); TenantNotFoundError when the tenant does not exist. Read in the next batch.
   */
  private async findOne(request: KeyRead): Promise<ApiKey | undefined> {
    const { tenantId, kind, value } = request;
    if (!isTenantId(tenantId)) throw new TenantNotFoundError(tenantId);
    const lookup: KeyLookup = `${kind}:${value}`;
    const cached = this.cache?.get(tenantId, lookup);
    if (this.cache?.enabled) {
      this.metrics?.tenantCacheLookups.inc({ result: cached ? 'hit' : 'miss' });
    }
    if (cached) return cached;
    const stamp = this.cache?.stamp(tenantId);
    const key = await this.reads.load(request);
    if (key && stamp) this.cache?.set(tenantId, lookup, key, stamp);
    return key;
  }

  /**
   * The lookups of every request that reached this point in one turn of the event loop, in one
   * statement (one round trip, each by its index, with the existence of its tenant): the reads
   * of concurrent requests share a query, as their writes share a transaction. Each lookup's
   * query starts after its request did, so it reads every change acknowledged before that.
   */
  private async readBatch(lookups: readonly KeyRead[]): Promise<Array<ApiKey | undefined | Error>> {
    const rows = await this.db.query<KeyRow & { i: string; tenant: string | null }>(
      `SELECT q.i, t.id AS tenant, ${JOINED_KEY_COLUMNS}
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS q (tenant, kind, value, i)
         LEFT JOIN tenants t ON t.id = q.tenant
         LEFT JOIN LATERAL (
           SELECT * FROM api_keys k
            WHERE k.tenant_id = t.id
              AND ((q.kind = 'name' AND k.name = q.value)
                OR (q.kind = 'hash' AND (k.hash = q.value OR k.previous_hash = q.value)))
            LIMIT 1) k ON true`,
      [
        lookups.map((read) => read.tenantId),
        lookups.map((read) => read.kind),
        lookups.map((read) => read.value),
      ],
      'api-keys-lookup',
    );
    const byIndex = new Map(rows.map((row) => [Number(row.i) - 1, row]));
    return lookups.map(({ tenantId }, index) => {
      const row = byIndex.get(index);
      if (!row?.tenant) return new TenantNotFoundError(tenantId);
      return row.name === null ? undefined : toKey(row);
    });
  }

  change<T>(tenantId: string, name: string, decide: DecideChange<T>): Promise<T> {
    if (!isTenantId(tenantId)) return Promise.reject(new TenantNotFoundError(tenantId));
    return this.writes.submit(tenantId, name, decide);
  }

  /** On shutdown, lets every queued change be committed (and answered) first. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.writes.drained();
  }

  /**
   * One transaction for a batch of changes to a tenant (group commit): the tenant's row locked,
   * the keys the batch names read, each change decided on its own, the net result and the
   * audit lines written, and every change answered only after COMMIT.
   */
  private async commit(tenantId: string, batch: PendingChange[]): Promise<void> {
    const outcomes = await this.written(tenantId, async (client) => {
      const head = await this.lockTenant(client, tenantId);
      const names = [...new Set(batch.map((change) => change.name))];
      // The keys the batch names, and in the same query those holding a replaced token, whose
      // grace periods every write checks.
      const rows = await client.query<KeyRow>(
        `SELECT ${KEY_COLUMNS} FROM api_keys
          WHERE tenant_id = $1 AND (name = ANY($2) OR previous_hash IS NOT NULL)`,
        [tenantId, names],
      );
      const named = new Set(names);
      const stored = new Map(
        rows.rows.filter((row) => named.has(row.name)).map((row) => [row.name, row]),
      );
      const next = new Map<string, ApiKey | null>();
      const events: AuditEvent[] = [];
      const current = (name: string) => {
        const decided = next.get(name);
        if (decided !== undefined) return decided ?? undefined;
        const row = stored.get(name);
        return row ? toKey(row) : undefined;
      };
      const settled = decideEach(batch, current, (name, decision) => {
        next.set(name, decision.key);
        if (decision.event) events.push(decision.event);
      });
      const now = this.clock.now();
      const created: Array<{ key: ApiKey }> = [];
      for (const [name, decided] of next) {
        const key = decided && withoutExpiredPreviousToken(decided, now);
        const row = stored.get(name);
        if (key === null) {
          if (row)
            await client.query('DELETE FROM api_keys WHERE tenant_id = $1 AND name = $2', [
              tenantId,
              name,
            ]);
        } else if (row) {
          await client.query(
            `UPDATE api_keys SET (${KEY_COLUMNS}) = (${KEY_VALUES})
              WHERE tenant_id = $1 AND name = $2`,
            [tenantId, ...columnsOf(key, row.extra)],
          );
        } else {
          created.push({ key });
        }
      }
      await this.insert(client, tenantId, created);
      if (next.size > 0) {
        const others = rows.rows.filter((row) => !next.has(row.name));
        await this.dropExpiredPreviousHashes(client, tenantId, others, now);
      }
      await this.audit(client, tenantId, head, events);
      return settled;
    });
    for (const settle of outcomes) settle();
  }

  async exportText(tenantId: string): Promise<string> {
    return this.db.transaction((client) => this.exportWith(client, tenantId));
  }

  replaceAll(
    tenantId: string,
    next: { readonly text: string; readonly document: SecurityDocument },
    audit: (before: readonly ApiKey[], after: readonly ApiKey[]) => AuditEvent[],
    expectedText?: string,
  ): Promise<void> {
    return this.written(tenantId, async (client) => {
      const head = await this.lockTenant(client, tenantId);
      if (
        expectedText !== undefined &&
        (await this.exportWith(client, tenantId)) !== expectedText
      ) {
        throw new TenantChangedError(tenantId);
      }
      const before = (
        await client.query<KeyRow>(
          `SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY position`,
          [tenantId],
        )
      ).rows.map(toKey);
      await client.query('DELETE FROM api_keys WHERE tenant_id = $1', [tenantId]);
      await this.insert(
        client,
        tenantId,
        next.document.entries.map((entry) => ({ key: entry.key, extra: extraOf(entry.raw) })),
      );
      const sections = Object.fromEntries(
        Object.entries(next.document.sections).filter(([name]) => name !== 'apiKeys'),
      );
      await client.query('UPDATE tenants SET sections = $2 WHERE id = $1', [
        tenantId,
        JSON.stringify(sections),
      ]);
      const events = audit(
        before,
        next.document.entries.map((entry) => entry.key),
      );
      await this.audit(client, tenantId, head, events);
    });
  }

  /**
   * A transaction that writes the tenant: whatever its outcome (a COMMIT whose answer was lost
   * included), what this replica read of the tenant is forgotten before anyone is answered — its
   * own NOTIFY reaches it only later.
   */
  private async written<T>(tenantId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    try {
      const result = await this.db.transaction(work);
      this.feed?.changed(tenantId);
      return result;
    } finally {
      this.cache?.changed(tenantId);
    }
  }

  /**
   * Locks the tenant's row for this transaction and returns its chain head; the transaction
   * also notifies every replica's key cache of the change, at COMMIT.
   */
  private async lockTenant(
    client: PoolClient,
    tenantId: string,
  ): Promise<{ seq: number; hash: string }> {
    // One round trip: the lock, and the notification (sent at COMMIT) with it.
    const rows = await client.query<{ audit_seq: string; audit_hash: string }>(
      'SELECT audit_seq, audit_hash, pg_notify($2, id) FROM tenants WHERE id = $1 FOR UPDATE',
      [tenantId, CHANGES_CHANNEL],
    );
    if (rows.rowCount === 0) throw new TenantNotFoundError(tenantId);
    return { seq: Number(rows.rows[0].audit_seq), hash: rows.rows[0].audit_hash };
  }

  /** Inserts the keys in order (their `position`), many rows per statement. */
  private async insert(
    client: PoolClient,
    tenantId: string,
    keys: ReadonlyArray<{ readonly key: ApiKey; readonly extra?: Record<string, unknown> }>,
  ): Promise<void> {
    for (let from = 0; from < keys.length; from += ROWS_PER_INSERT) {
      const chunk = keys.slice(from, from + ROWS_PER_INSERT);
      const values = chunk.map((_key, row) => {
        const first = 2 + row * KEY_COLUMN_COUNT;
        const placeholders = Array.from({ length: KEY_COLUMN_COUNT }, (_c, i) => `$${first + i}`);
        return `($1, ${placeholders.join(', ')})`;
      });
      await client.query(
        `INSERT INTO api_keys (tenant_id, ${KEY_COLUMNS}) VALUES ${values.join(', ')}`,
        [tenantId, ...chunk.flatMap(({ key, extra }) => columnsOf(key, extra))],
      );
    }
  }

  /** Appends the events to the tenant's chain and anchors the new head in its row. */
  private async audit(
    client: PoolClient,
    tenantId: string,
    head: { seq: number; hash: string },
    events: readonly AuditEvent[],
  ): Promise<void> {
    if (events.length === 0) return;
    const time = new Date(this.clock.now()).toISOString();
    const lines = chainLines({ ...head, bytes: 0 }, events, time);
    // The lines and the new head in one statement (a data-modifying CTE always runs whole).
    await client.query(
      `WITH appended AS (
         INSERT INTO audit_log (tenant_id, seq, line)
           SELECT $1, $2::bigint + n, line FROM unnest($3::text[]) WITH ORDINALITY AS l (line, n)
       )
       UPDATE tenants SET audit_seq = $4, audit_hash = $5 WHERE id = $1`,
      [tenantId, head.seq, lines.text.trimEnd().split('\n'), lines.head.seq, lines.head.hash],
    );
  }

  /**
   * The housekeeping every write does: hashes replaced by a rotation, past their grace, among
   * `rows` (the keys the batch did not write, which drop theirs as they are written).
   */
  private async dropExpiredPreviousHashes(
    client: PoolClient,
    tenantId: string,
    rows: readonly KeyRow[],
    now: number,
  ): Promise<void> {
    const expired = rows
      .filter((row) => row.previous_hash !== null && !previousTokenValidUntil(toKey(row), now))
      .map((row) => row.name);
    if (expired.length === 0) return;
    await client.query(
      `UPDATE api_keys SET previous_hash = NULL, previous_hash_expires_at = NULL
        WHERE tenant_id = $1 AND name = ANY($2)`,
      [tenantId, expired],
    );
  }

  private async exportWith(client: PoolClient, tenantId: string): Promise<string> {
    const tenant = await client.query<{ sections: Record<string, unknown> }>(
      'SELECT sections FROM tenants WHERE id = $1',
      [tenantId],
    );
    if (tenant.rowCount === 0) throw new TenantNotFoundError(tenantId);
    const rows = await client.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY position`,
      [tenantId],
    );
    return renderSecurityFile({
      sections: tenant.rows[0].sections,
      entries: rows.rows.map((row) => toStoredEntry(toKey(row), row.extra)),
    });
  }
}

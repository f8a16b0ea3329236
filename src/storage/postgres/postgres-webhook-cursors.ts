import { Injectable } from '@nestjs/common';
import { isTenantId } from '../api-key.record';
import { TenantNotFoundError } from '../storage.errors';
import {
  type DeliveryCursor,
  type DeliveryWork,
  FRESH_CURSOR,
  WebhookCursors,
} from '../webhook-cursors';
import { PostgresDatabase } from './postgres-database';

interface CursorRow {
  delivered: string;
  expiring: string[];
}

const toCursor = (row: CursorRow | undefined): DeliveryCursor =>
  row ? { delivered: Number(row.delivered), expiring: row.expiring } : FRESH_CURSOR;

/**
 * Cursors in `webhook_cursors`. The claim is a session-level advisory lock on the tenant
 * (`pg_try_advisory_lock`), held on a connection of its own while the tenant's events are
 * delivered, and each moved cursor is committed at once; the server releases the lock if that
 * connection is lost, so another replica takes the tenant over.
 */
@Injectable()
export class PostgresWebhookCursors extends WebhookCursors {
  constructor(private readonly db: PostgresDatabase) {
    super();
  }

  async since(now: string): Promise<string> {
    await this.db.query(
      'INSERT INTO webhook_state (id, since) VALUES (1, $1) ON CONFLICT (id) DO NOTHING',
      [now],
    );
    const [row] = await this.db.query<{ since: string }>('SELECT since FROM webhook_state');
    return row.since;
  }

  async tenants(): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>('SELECT id FROM tenants ORDER BY id');
    return rows.map((row) => row.id);
  }

  async cursor(tenantId: string): Promise<DeliveryCursor> {
    const [row] = await this.db.query<CursorRow>(
      'SELECT delivered, expiring FROM webhook_cursors WHERE tenant_id = $1',
      [tenantId],
    );
    return toCursor(row);
  }

  claim(tenantId: string, work: DeliveryWork): Promise<boolean> {
    if (!isTenantId(tenantId)) return Promise.reject(new TenantNotFoundError(tenantId));
    return this.db.session(async (client) => {
      const lock = "hashtextextended('tenant-api-keys webhooks ' || $1, 0)";
      const [taken] = (
        await client.query<{ taken: boolean }>(`SELECT pg_try_advisory_lock(${lock}) AS taken`, [
          tenantId,
        ])
      ).rows;
      if (!taken.taken) return false;
      try {
        const [row] = (
          await client.query<CursorRow>(
            'SELECT delivered, expiring FROM webhook_cursors WHERE tenant_id = $1',
            [tenantId],
          )
        ).rows;
        await work(toCursor(row), async (cursor) => {
          await client.query(
            `INSERT INTO webhook_cursors (tenant_id, delivered, expiring) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id) DO UPDATE SET delivered = $2, expiring = $3`,
            [tenantId, cursor.delivered, JSON.stringify(cursor.expiring)],
          );
        });
      } finally {
        await client.query(`SELECT pg_advisory_unlock(${lock})`, [tenantId]).catch(() => undefined);
      }
      return true;
    });
  }
}

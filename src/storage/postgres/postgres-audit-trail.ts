import { Injectable } from '@nestjs/common';
import { isTenantId } from '../api-key.record';
import { type ChainVerdict, verifyChain } from '../audit-chain';
import type { AuditEntry } from '../audit-entry';
import { AuditTrail } from '../audit-trail';
import { TenantNotFoundError } from '../storage.errors';
import { PostgresDatabase } from './postgres-database';

/** A tenant's audit trail in the `audit_log` table, its head anchored in the tenant's row. */
@Injectable()
export class PostgresAuditTrail extends AuditTrail {
  constructor(private readonly db: PostgresDatabase) {
    super();
  }

  async page(tenantId: string, limit: number, before?: number): Promise<AuditEntry[]> {
    await this.assertTenant(tenantId);
    const rows = await this.db.query<{ line: string }>(
      `SELECT line FROM audit_log WHERE tenant_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
      [tenantId, before ?? Number.MAX_SAFE_INTEGER, limit],
    );
    return rows.map((row) => JSON.parse(row.line) as AuditEntry);
  }

  async verify(tenantId: string): Promise<ChainVerdict> {
    const [head] = await this.db.query<{ audit_seq: string; audit_hash: string }>(
      'SELECT audit_seq, audit_hash FROM tenants WHERE id = $1',
      [tenantId],
    );
    if (!head) throw new TenantNotFoundError(tenantId);
    const rows = await this.db.query<{ line: string }>(
      'SELECT line FROM audit_log WHERE tenant_id = $1 ORDER BY seq',
      [tenantId],
    );
    const text = rows.map((row) => `${row.line}\n`).join('');
    return verifyChain(text, {
      head: { seq: Number(head.audit_seq), hash: head.audit_hash, bytes: 0 },
    });
  }

  async head(tenantId: string): Promise<number> {
    if (!isTenantId(tenantId)) throw new TenantNotFoundError(tenantId);
    const [row] = await this.db.query<{ audit_seq: string }>(
      'SELECT audit_seq FROM tenants WHERE id = $1',
      [tenantId],
    );
    if (!row) throw new TenantNotFoundError(tenantId);
    return Number(row.audit_seq);
  }

  override async after(tenantId: string, after: number, limit: number): Promise<AuditEntry[]> {
    await this.assertTenant(tenantId);
    const rows = await this.db.query<{ line: string }>(
      'SELECT line FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [tenantId, after, limit],
    );
    return rows.map((row) => JSON.parse(row.line) as AuditEntry);
  }

  private async assertTenant(tenantId: string): Promise<void> {
    if (!isTenantId(tenantId)) throw new TenantNotFoundError(tenantId);
    const rows = await this.db.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId]);
    if (rows.length === 0) throw new TenantNotFoundError(tenantId);
  }
}

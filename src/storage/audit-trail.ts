import type { ChainVerdict } from './audit-chain';
import type { AuditEntry } from './audit-entry';

/**
 * Reading a tenant's audit trail, wherever the storage keeps it (the lines are written by the
 * key store, with the changes they record). The port, and its injection token. Both methods
 * throw TenantNotFoundError for a tenant that does not exist.
 */
export abstract class AuditTrail {
  /** Up to `limit` entries with `seq` below `before`, newest first, without reading the whole trail. */
  abstract page(tenantId: string, limit: number, before?: number): Promise<AuditEntry[]>;

  /** Checks the chain and its anchor. */
  abstract verify(tenantId: string): Promise<ChainVerdict>;
}

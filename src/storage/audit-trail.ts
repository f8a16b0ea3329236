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

  /** The `seq` of the tenant's last line (0 for none yet), as its anchor records it. */
  abstract head(tenantId: string): Promise<number>;

  /**
   * Up to `limit` entries with `seq` above `after`, oldest first: for what follows the trail
   * (webhook delivery), which is normally a few lines behind its head. Read back page by page.
   */
  async after(tenantId: string, after: number, limit: number): Promise<AuditEntry[]> {
    const newest: AuditEntry[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await this.page(tenantId, PAGE, before);
      for (const entry of page) {
        if (entry.seq <= after) return newest.reverse().slice(0, limit);
        newest.push(entry);
      }
      if (page.length < PAGE) return newest.reverse().slice(0, limit);
      before = page[page.length - 1].seq;
    }
  }
}

const PAGE = 500;

import { Injectable } from '@nestjs/common';
import type { ChainVerdict } from '../storage/audit-chain';
import type { AuditEntry } from '../storage/audit-entry';
import { AuditTrail } from '../storage/audit-trail';

/** Reads a tenant's audit trail through the storage's port. */
@Injectable()
export class AuditService {
  constructor(private readonly trail: AuditTrail) {}

  /** Up to `limit` entries with `seq` below `before`, newest first. */
  list(tenantId: string, limit: number, before?: number): Promise<AuditEntry[]> {
    return this.trail.page(tenantId, limit, before);
  }

  verify(tenantId: string): Promise<ChainVerdict> {
    return this.trail.verify(tenantId);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { errnoCode, TenantStorageError } from '../api-keys/api-keys.errors';
import { existingTenantDir } from '../api-keys/tenant-directory';
import { appConfig } from '../config/app.config';
import type { ChainVerdict } from './audit-chain';
import { AUDIT_FILE, type AuditEntry } from './audit-entry';
import { readAuditPage, verifyAuditLog } from './audit-log';

/** Reads a tenant's audit trail, `<TENANTS_DIR>/<tenantId>/audit.log`. */
@Injectable()
export class AuditService {
  constructor(
    @Inject(appConfig.KEY)
    private readonly config: Pick<ConfigType<typeof appConfig>, 'tenantsDir'>,
  ) {}

  private async reading<T>(tenantId: string, read: (dir: string) => Promise<T>): Promise<T> {
    const dir = await existingTenantDir(this.config.tenantsDir, tenantId);
    try {
      return await read(dir);
    } catch (error) {
      throw new TenantStorageError(tenantId, errnoCode(error), 'read', AUDIT_FILE);
    }
  }

  /** Up to `limit` entries with `seq` below `before`, newest first. */
  list(tenantId: string, limit: number, before?: number): Promise<AuditEntry[]> {
    return this.reading(tenantId, (dir) => readAuditPage(dir, limit, before));
  }

  verify(tenantId: string): Promise<ChainVerdict> {
    return this.reading(tenantId, (dir) => verifyAuditLog(dir));
  }
}

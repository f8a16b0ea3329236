import { Inject, Injectable } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigType } from '@nestjs/config';
import { appConfig } from '../../config/app.config';
import type { ChainVerdict } from '../audit-chain';
import type { AuditEntry } from '../audit-entry';
import { AuditTrail } from '../audit-trail';
import { AUDIT_FILE, readAnchor, readAuditPage, verifyAuditLog } from './audit-log-file';
import { fileError } from './file-errors';
import { existingTenantDir } from './tenant-directory';

/** A tenant's audit trail in `<TENANTS_DIR>/<tenantId>/audit.log`, anchored by `audit.anchor`. */
@Injectable()
export class YamlAuditTrail extends AuditTrail {
  constructor(
    @Inject(appConfig.KEY)
    private readonly config: Pick<ConfigType<typeof appConfig>, 'tenantsDir'>,
  ) {
    super();
  }

  page(tenantId: string, limit: number, before?: number): Promise<AuditEntry[]> {
    return this.reading(tenantId, (dir) => readAuditPage(dir, limit, before));
  }

  verify(tenantId: string): Promise<ChainVerdict> {
    return this.reading(tenantId, (dir) => verifyAuditLog(dir));
  }

  /**
   * The last line of a stored change: while a write is in flight (its security.yml not yet
   * renamed into place), its lines are not counted, since it may yet be taken back.
   */
  head(tenantId: string): Promise<number> {
    return this.reading(tenantId, async (dir) => {
      const anchor = await readAnchor(dir);
      if (!anchor) return 0;
      const pending = anchor.pendingFile && existsSync(join(dir, anchor.pendingFile));
      return (pending ? anchor.previous?.seq : anchor.head.seq) ?? 0;
    });
  }

  private async reading<T>(tenantId: string, read: (dir: string) => Promise<T>): Promise<T> {
    const dir = await existingTenantDir(this.config.tenantsDir, tenantId);
    try {
      return await read(dir);
    } catch (error) {
      throw fileError(tenantId, error, 'read', AUDIT_FILE);
    }
  }
}

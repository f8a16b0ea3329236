import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, TenantStorageError } from '../api-keys/api-keys.errors';
import { existingTenantDir } from '../api-keys/tenant-directory';
import { appConfig } from '../config/app.config';
import { AUDIT_FILE, type AuditEntry } from './audit-entry';
import { parseAuditLog, verifyAuditChain, type ChainVerdict } from './audit-log';

/** Reads a tenant's audit trail, `<TENANTS_DIR>/<tenantId>/audit.log`. */
@Injectable()
export class AuditService {
  constructor(
    @Inject(appConfig.KEY)
    private readonly config: Pick<ConfigType<typeof appConfig>, 'tenantsDir'>,
  ) {}

  private async text(tenantId: string): Promise<string> {
    const dir = await existingTenantDir(this.config.tenantsDir, tenantId);
    try {
      return await readFile(join(dir, AUDIT_FILE), 'utf8');
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT') return '';
      throw new TenantStorageError(tenantId, code, 'read', AUDIT_FILE);
    }
  }

  /** Up to `limit` entries with `seq` below `before`, newest first. */
  async list(tenantId: string, limit: number, before?: number): Promise<AuditEntry[]> {
    const entries = parseAuditLog(await this.text(tenantId));
    const older = before === undefined ? entries : entries.filter((entry) => entry.seq < before);
    return older.slice(-limit).reverse();
  }

  async verify(tenantId: string): Promise<ChainVerdict> {
    return verifyAuditChain(await this.text(tenantId));
  }
}

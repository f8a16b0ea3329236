import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { join } from 'node:path';
import { appConfig } from '../../config/app.config';
import { SideFile } from './side-file';
import { existingTenantDir } from './tenant-directory';
import { withTenantLock } from './tenant-lock';
import { mergeUsage, USAGE_READ_REUSE_MS, type UsageRecord, UsageStore } from '../usage.store';

/** The side file beside security.yml: `{ "<key name>": { "lastUsedAt", "createdAt"? } }`. */
export const USAGE_FILE = 'last-used.json';

function parseUsage(text: string | undefined): Map<string, UsageRecord> {
  const records = new Map<string, UsageRecord>();
  if (!text) return records;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    for (const [name, value] of Object.entries(parsed)) {
      const record = value as Partial<UsageRecord> | null;
      if (typeof record?.lastUsedAt !== 'string') continue;
      const createdAt = typeof record.createdAt === 'string' ? record.createdAt : undefined;
      records.set(name, { lastUsedAt: record.lastUsedAt, createdAt });
    }
  } catch {
    // A damaged side file costs last-used times, never keys: it is rewritten at the next flush.
  }
  return records;
}

/**
 * Last-used times in `<TENANTS_DIR>/<tenantId>/last-used.json`, never in security.yml. Reads
 * are cached while the file is unchanged, and trusted for USAGE_READ_REUSE_MS without a stat
 * (another process's flush shows that much later; this one's at once). Each flush merges
 * under the tenant's lock, so every process sharing the folder adds its uses, and replaces
 * the file atomically.
 */
@Injectable()
export class YamlUsageStore extends UsageStore {
  private readonly file: SideFile<Map<string, UsageRecord>>;

  constructor(
    @Inject(appConfig.KEY)
    private readonly config: Pick<ConfigType<typeof appConfig>, 'tenantsDir' | 'tenantCacheSize'>,
  ) {
    super();
    this.file = new SideFile(
      config.tenantsDir,
      USAGE_FILE,
      config.tenantCacheSize,
      parseUsage,
      USAGE_READ_REUSE_MS,
    );
  }

  read(tenantId: string): Promise<ReadonlyMap<string, UsageRecord>> {
    return this.file.read(tenantId);
  }

  async save(tenantId: string, uses: ReadonlyMap<string, UsageRecord>): Promise<void> {
    const dir = await existingTenantDir(this.config.tenantsDir, tenantId);
    await withTenantLock(
      tenantId,
      join(dir, 'security.yml'),
      async () => {
        const merged = mergeUsage(await this.file.load(tenantId), uses);
        const text = `${JSON.stringify(Object.fromEntries(merged), null, 1)}\n`;
        // No lock check before the rename (last uses are approximate): a flush stalled past the
        // lock's staleness may drop another process's newest times, never a key.
        await this.file.replace(tenantId, text);
      },
      () => undefined,
    );
  }
}

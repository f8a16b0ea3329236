import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomBytes } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readRegularFile, syncDirectory, writeAndSync } from './durable-file';
import { LruCache } from '../../common/lru-cache';
import { appConfig } from '../../config/app.config';
import { fileError } from './file-errors';
import { existingTenantDir, tenantPath } from './tenant-directory';
import { withTenantLock } from './tenant-lock';
import { mergeUsage, type UsageRecord, UsageStore } from '../usage.store';

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
 * are cached while the file is unchanged; each flush merges under the tenant's lock, so every
 * process sharing the folder adds its uses, and replaces the file atomically.
 */
@Injectable()
export class YamlUsageStore extends UsageStore {
  private readonly cache: LruCache<
    string,
    { signature: string; records: Map<string, UsageRecord> }
  >;

  constructor(
    @Inject(appConfig.KEY)
    private readonly config: Pick<ConfigType<typeof appConfig>, 'tenantsDir' | 'tenantCacheSize'>,
  ) {
    super();
    this.cache = new LruCache(config.tenantCacheSize);
  }

  async read(tenantId: string): Promise<ReadonlyMap<string, UsageRecord>> {
    // On the path of every GET: the key store has just found the tenant, so one lstat (no
    // thread-pool round trip) tells whether the side file changed; none means no uses yet.
    const file = join(tenantPath(this.config.tenantsDir, tenantId), USAGE_FILE);
    const stats = lstatSync(file, { bigint: true, throwIfNoEntry: false });
    const signature = stats ? `${stats.ino}:${stats.size}:${stats.mtimeNs}` : 'absent';
    const cached = this.cache.get(tenantId);
    if (cached?.signature === signature) return cached.records;
    const records = await this.load(tenantId, file);
    this.cache.set(tenantId, { signature, records });
    return records;
  }

  async save(tenantId: string, uses: ReadonlyMap<string, UsageRecord>): Promise<void> {
    const dir = await existingTenantDir(this.config.tenantsDir, tenantId);
    const file = join(dir, USAGE_FILE);
    await withTenantLock(
      tenantId,
      join(dir, 'security.yml'),
      async () => {
        const merged = mergeUsage(await this.load(tenantId, file), uses);
        const temp = join(
          dir,
          `.${USAGE_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
        );
        try {
          await writeAndSync(
            temp,
            'create',
            `${JSON.stringify(Object.fromEntries(merged), null, 1)}\n`,
          );
          await rename(temp, file);
          await syncDirectory(dir);
        } catch (error) {
          await rm(temp, { force: true });
          throw fileError(tenantId, error, 'update', USAGE_FILE);
        }
      },
      () => undefined,
    );
  }

  private async load(tenantId: string, file: string): Promise<Map<string, UsageRecord>> {
    try {
      return parseUsage(await readRegularFile(file));
    } catch (error) {
      throw fileError(tenantId, error, 'read', USAGE_FILE);
    }
  }
}

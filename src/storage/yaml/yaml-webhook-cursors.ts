import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { appConfig } from '../../config/app.config';
import { isTenantId } from '../api-key.record';
import { errnoCode, TenantLockHeldError } from '../storage.errors';
import {
  type DeliveryCursor,
  type DeliveryWork,
  FRESH_CURSOR,
  WebhookCursors,
} from '../webhook-cursors';
import { readRegularFile, writeAndSync } from './durable-file';
import { SideFile } from './side-file';
import { existingTenantDir } from './tenant-directory';
import { withTenantLock } from './tenant-lock';

/** Each tenant's cursor, beside its audit.log: `{ "delivered": <seq>, "expiring": [...] }`. */
export const WEBHOOKS_FILE = 'webhooks.json';
/** In TENANTS_DIR itself: a leading dot is never a tenant id. */
const SINCE_FILE = '.webhooks-since';

function parseCursor(text: string | undefined): DeliveryCursor {
  if (text === undefined) return FRESH_CURSOR;
  try {
    const parsed = JSON.parse(text) as Partial<DeliveryCursor>;
    return {
      delivered: Number.isSafeInteger(parsed.delivered) ? (parsed.delivered as number) : 0,
      expiring: Array.isArray(parsed.expiring)
        ? parsed.expiring.filter((notice) => typeof notice === 'string')
        : [],
    };
  } catch {
    // A damaged cursor costs repeated deliveries (at least once), never missed ones.
    return FRESH_CURSOR;
  }
}

/**
 * Cursors in `<tenant>/webhooks.json`. The claim is the file's own lock (`webhooks.json.lock`,
 * proper-lockfile, as for the other files), tried once: a process that finds it held leaves the
 * tenant to its holder. A cursor is saved atomically, and only while the lock is still ours.
 */
@Injectable()
export class YamlWebhookCursors extends WebhookCursors {
  private readonly file: SideFile<DeliveryCursor>;

  constructor(
    @Inject(appConfig.KEY)
    private readonly config: Pick<ConfigType<typeof appConfig>, 'tenantsDir' | 'tenantCacheSize'>,
  ) {
    super();
    this.file = new SideFile(config.tenantsDir, WEBHOOKS_FILE, config.tenantCacheSize, parseCursor);
  }

  async since(now: string): Promise<string> {
    const file = join(this.config.tenantsDir, SINCE_FILE);
    try {
      await writeAndSync(file, 'create', now);
      return now;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
      return ((await readRegularFile(file)) ?? now).trim();
    }
  }

  async tenants(): Promise<string[]> {
    const entries = await readdir(this.config.tenantsDir, { withFileTypes: true });
    return entries
      .filter((entry) => entry.isDirectory() && isTenantId(entry.name))
      .map((e) => e.name);
  }

  cursor(tenantId: string): Promise<DeliveryCursor> {
    return this.file.read(tenantId);
  }

  async claim(tenantId: string, work: DeliveryWork): Promise<boolean> {
    await existingTenantDir(this.config.tenantsDir, tenantId);
    try {
      await withTenantLock(
        tenantId,
        this.file.path(tenantId),
        async (lock) => {
          const save = async (cursor: DeliveryCursor) => {
            const text = `${JSON.stringify(cursor)}\n`;
            await this.file.replace(tenantId, text, {
              lock,
              lost: 'lost its webhook claim mid-delivery',
            });
          };
          await work(await this.file.load(tenantId), save);
        },
        () => undefined,
        0,
      );
      return true;
    } catch (error) {
      if (error instanceof TenantLockHeldError) return false; // another process delivers it
      throw error;
    }
  }
}

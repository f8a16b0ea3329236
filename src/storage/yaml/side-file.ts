import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { LruCache } from '../../common/lru-cache';
import { TenantBusyError } from '../storage.errors';
import { readRegularFile, replaceDurably } from './durable-file';
import { fileError } from './file-errors';
import { tenantPath } from './tenant-directory';
import type { HeldLock } from './tenant-lock';

/**
 * A small file the service keeps beside a tenant's security.yml (last uses, credits spent),
 * parsed with `parse` (given undefined when there is none) and cached while it is unchanged.
 */
export class SideFile<T> {
  private readonly cache: LruCache<string, { signature: string; value: T }>;

  constructor(
    private readonly root: string,
    readonly name: string,
    capacity: number,
    private readonly parse: (text: string | undefined, tenantId: string) => T,
  ) {
    this.cache = new LruCache(capacity);
  }

  /** The tenant's file (its id checked first). */
  path(tenantId: string): string {
    return join(tenantPath(this.root, tenantId), this.name);
  }

  /**
   * What the file holds now. On the request path: the key store has just found the tenant, so
   * one lstat (no thread-pool round trip) tells whether the file changed since it was read.
   */
  async read(tenantId: string): Promise<T> {
    const stats = lstatSync(this.path(tenantId), { bigint: true, throwIfNoEntry: false });
    const signature = stats ? `${stats.ino}:${stats.size}:${stats.mtimeNs}` : 'absent';
    const cached = this.cache.get(tenantId);
    if (cached?.signature === signature) return cached.value;
    const value = await this.load(tenantId);
    this.cache.set(tenantId, { signature, value });
    return value;
  }

  /** What the file holds, read afresh (under the lock, before it is rewritten). */
  async load(tenantId: string): Promise<T> {
    let text: string | undefined;
    try {
      text = await readRegularFile(this.path(tenantId));
    } catch (error) {
      throw fileError(tenantId, error, 'read', this.name);
    }
    return this.parse(text, tenantId);
  }

  /**
   * Replaces the tenant's file with `text` (durably, atomically), only while `lock` is still
   * ours, checked right before the rename: a process stopped past the lock's staleness must not
   * overwrite what the lock's next holder wrote. `lost` says what was lost.
   */
  async replace(tenantId: string, text: string, lock: HeldLock, lost: string): Promise<void> {
    await replaceDurably(tenantPath(this.root, tenantId), this.name, text, async () => {
      if (!(await lock.stillHeld())) throw new TenantBusyError(tenantId, 1, lost);
    }).catch((error: unknown) => {
      if (error instanceof TenantBusyError) throw error;
      throw fileError(tenantId, error, 'update', this.name);
    });
  }
}

import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { LruCache } from '../../common/lru-cache';
import { TenantBusyError } from '../storage.errors';
import { readRegularFile, replaceDurably } from './durable-file';
import { fileError } from './file-errors';
import { tenantPath } from './tenant-directory';
import type { HeldLock } from './tenant-lock';

interface CachedValue<T> {
  readonly signature: string;
  readonly value: T;
  /** When the file was last seen with this signature (Date.now()). */
  checkedAt: number;
}

/**
 * A small file the service keeps beside a tenant's security.yml (last uses, credits spent),
 * parsed with `parse` (given undefined when there is none) and cached while it is unchanged.
 * With `reuseMs`, what was read is trusted that long without looking at the file again: for a
 * file whose contents are approximate anyway (last uses), not for one that decides (credits).
 */
export class SideFile<T> {
  private readonly cache: LruCache<string, CachedValue<T>>;
  /** Bumped by forget(): a read that overlapped it does not keep what it found. */
  private generation = 0;

  constructor(
    private readonly root: string,
    readonly name: string,
    capacity: number,
    private readonly parse: (text: string | undefined, tenantId: string) => T,
    private readonly reuseMs = 0,
  ) {
    this.cache = new LruCache(capacity);
  }

  /** The tenant's file (its id checked first). */
  path(tenantId: string): string {
    return join(tenantPath(this.root, tenantId), this.name);
  }

  /**
   * What the file holds now (with `reuseMs`: as read at most that long ago). On the request
   * path: the key store has just found the tenant, so one lstat (no thread-pool round trip)
   * tells whether the file changed since it was read.
   */
  async read(tenantId: string): Promise<T> {
    const now = Date.now();
    const cached = this.cache.get(tenantId);
    if (cached && now - cached.checkedAt < this.reuseMs) return cached.value;
    const stats = lstatSync(this.path(tenantId), { bigint: true, throwIfNoEntry: false });
    const signature = stats ? `${stats.ino}:${stats.size}:${stats.mtimeNs}` : 'absent';
    if (cached?.signature === signature) {
      cached.checkedAt = now;
      return cached.value;
    }
    const generation = this.generation;
    const value = await this.load(tenantId);
    if (generation === this.generation) {
      this.cache.set(tenantId, { signature, value, checkedAt: now });
    }
    return value;
  }

  /** The file may have changed (replace says so): the next read looks, whatever `reuseMs`. */
  forget(tenantId: string): void {
    this.generation++;
    this.cache.delete(tenantId);
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
   * Replaces the tenant's file with `text` (durably, atomically); the next read looks at it
   * again. With `guard`, only while its lock is still ours, checked right before the rename: a
   * process stopped past the lock's staleness must not overwrite what the lock's next holder
   * wrote (`guard.lost` says what was lost).
   */
  async replace(
    tenantId: string,
    text: string,
    guard?: { readonly lock: HeldLock; readonly lost: string },
  ): Promise<void> {
    const stillOurs =
      guard &&
      (async () => {
        if (!(await guard.lock.stillHeld())) throw new TenantBusyError(tenantId, 1, guard.lost);
      });
    try {
      await replaceDurably(tenantPath(this.root, tenantId), this.name, text, stillOurs);
    } catch (error) {
      if (error instanceof TenantBusyError) throw error;
      throw fileError(tenantId, error, 'update', this.name);
    } finally {
      this.forget(tenantId);
    }
  }
}

import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Clock } from '../common/clock';
import { appConfig } from '../config/app.config';
import type { ApiKey } from '../storage/api-key.record';
import {
  laterUse,
  mergeUsage,
  sameKey,
  type UsageRecord,
  UsageStore,
} from '../storage/usage.store';

/**
 * Last-used times, gathered in memory on every successful authentication (no disk write on the
 * request path) and written per tenant at most once per USAGE_FLUSH_SECONDS, and at shutdown.
 * A crash loses at most one interval of them.
 */
@Injectable()
export class UsageBuffer implements BeforeApplicationShutdown {
  private readonly logger = new Logger(UsageBuffer.name);
  private readonly pending = new Map<string, Map<string, UsageRecord>>();
  /** Uses being written, still shown until the store has them. */
  private readonly flushing = new Map<string, ReadonlyMap<string, UsageRecord>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly intervalMs: number;

  constructor(
    private readonly store: UsageStore,
    private readonly clock: Clock,
    @Inject(appConfig.KEY) config: Pick<ConfigType<typeof appConfig>, 'usageFlushSeconds'>,
  ) {
    this.intervalMs = config.usageFlushSeconds * 1000;
  }

  /** The key just authenticated a request. */
  record(tenantId: string, key: ApiKey): void {
    let uses = this.pending.get(tenantId);
    if (!uses) {
      uses = new Map();
      this.pending.set(tenantId, uses);
    }
    uses.set(key.name, {
      lastUsedAt: new Date(this.clock.now()).toISOString(),
      createdAt: key.createdAt,
    });
    if (!this.timers.has(tenantId)) {
      const timer = setTimeout(() => void this.flush(tenantId), this.intervalMs);
      timer.unref();
      this.timers.set(tenantId, timer);
    }
  }

  /** A key deleted: a key re-created under its name starts with no last use. */
  forget(tenantId: string, name: string): void {
    this.pending.get(tenantId)?.delete(name);
  }

  /** When each key of `keys` last authenticated, from the store and what is not yet written. */
  async lastUsed(tenantId: string, keys: readonly ApiKey[]): Promise<Map<string, string>> {
    // One key (a GET of it) reads one record; the whole tenant's list, all of them.
    const names = keys.length === 1 ? [keys[0].name] : undefined;
    const stored = await this.store.read(tenantId, names);
    const flushing = this.flushing.get(tenantId);
    const pending = this.pending.get(tenantId);
    const times = new Map<string, string>();
    // Per key, not per tenant: a GET of one key in a busy tenant copies nothing.
    for (const { name, createdAt } of keys) {
      const record = laterUse(laterUse(stored.get(name), flushing?.get(name)), pending?.get(name));
      if (record && sameKey(record, createdAt)) times.set(name, record.lastUsedAt);
    }
    return times;
  }

  /** Writes what was gathered for the tenant; kept for the next flush if the write fails. */
  async flush(tenantId: string): Promise<void> {
    clearTimeout(this.timers.get(tenantId));
    this.timers.delete(tenantId);
    const uses = this.pending.get(tenantId);
    if (!uses || uses.size === 0) return;
    this.pending.delete(tenantId);
    this.flushing.set(tenantId, uses);
    try {
      await this.store.save(tenantId, uses);
    } catch (error) {
      this.logger.warn(
        `could not write the last-used times of ${tenantId}: ${error instanceof Error ? error.message : String(error)}`,
      );
      const newer = this.pending.get(tenantId);
      this.pending.set(tenantId, mergeUsage(uses, newer ?? new Map()));
    } finally {
      if (this.flushing.get(tenantId) === uses) this.flushing.delete(tenantId);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.pending.keys()].map((tenantId) => this.flush(tenantId)));
  }
}

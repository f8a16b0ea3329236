import { Inject, Injectable, Logger, type OnApplicationShutdown, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Client } from 'pg';
import { Clock } from '../../common/clock';
import { Metrics } from '../../common/metrics';
import { storageConfig } from '../../config/storage.config';
import type { ApiKey } from '../api-key.record';

/** The channel every writing transaction notifies, with the tenant as payload, at COMMIT. */
export const CHANGES_CHANNEL = 'tenant_api_keys_changed';
const RECONNECT_MS = 1000;

/** What a key was looked up by: its hash (authentication) or its name (a GET of it). */
export type KeyLookup = `hash:${string}` | `name:${string}`;

/**
 * Keys read by hash or by name (never their absence: random lookups must not fill memory),
 * kept for at most AUTH_CACHE_MS (0, the default: nothing is kept, every read goes to the
 * database). A tenant's entries are dropped as
 * soon as a change to it is notified (LISTEN on a connection of its own) and, on the replica
 * that wrote it, at COMMIT; every entry is dropped, and nothing kept, while that connection is
 * down: a key may authenticate from a copy no older than the bound.
 */
@Injectable()
export class KeyCache implements OnApplicationShutdown {
  private readonly logger = new Logger(KeyCache.name);
  private readonly entries = new Map<string, Map<KeyLookup, { key: ApiKey; at: number }>>();
  /** Notified changes per tenant, so that a read that raced one is not kept. */
  private readonly generations = new Map<string, number>();
  private listener?: Client;
  private listening = false;
  private closed = false;
  private readonly maxAgeMs: number;

  constructor(
    @Inject(storageConfig.KEY) private readonly config: ConfigType<typeof storageConfig>,
    private readonly clock: Clock,
    @Optional() metrics?: Metrics,
  ) {
    this.maxAgeMs = config.authCacheMs;
    if (this.maxAgeMs > 0) void this.listen();
    metrics?.watchCache(() => {
      let entries = 0;
      for (const tenant of this.entries.values()) entries += tenant.size;
      return entries;
    });
  }

  /** Whether anything is kept at all (AUTH_CACHE_MS > 0). */
  get enabled(): boolean {
    return this.maxAgeMs > 0;
  }

  get(tenantId: string, lookup: KeyLookup): ApiKey | undefined {
    if (!this.listening) return undefined;
    const entry = this.entries.get(tenantId)?.get(lookup);
    if (!entry || this.clock.now() - entry.at >= this.maxAgeMs) return undefined;
    return entry.key;
  }

  /** The tenant changed (a write of this replica committed): forget what was read of it. */
  changed(tenantId: string): void {
    this.entries.delete(tenantId);
    this.generations.set(tenantId, (this.generations.get(tenantId) ?? 0) + 1);
  }

  /** Taken before a read: `set` keeps what the read found only if nothing changed meanwhile. */
  stamp(tenantId: string): { readonly at: number; readonly generation: number } {
    return { at: this.clock.now(), generation: this.generations.get(tenantId) ?? 0 };
  }

  set(
    tenantId: string,
    lookup: KeyLookup,
    key: ApiKey,
    stamp: { readonly at: number; readonly generation: number },
  ): void {
    if (!this.listening || this.maxAgeMs === 0) return;
    if ((this.generations.get(tenantId) ?? 0) !== stamp.generation) return;
    let tenant = this.entries.get(tenantId);
    if (!tenant) {
      tenant = new Map();
      this.entries.set(tenantId, tenant);
    }
    tenant.set(lookup, { key, at: stamp.at });
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.listener?.end().catch(() => undefined);
  }

  private dropAll(reason: string): void {
    if (this.listening) this.logger.warn(`key cache dropped: ${reason}`);
    this.listening = false;
    this.entries.clear();
  }

  private async listen(): Promise<void> {
    while (!this.closed) {
      const client = new Client({ connectionString: this.config.databaseUrl });
      const lost = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.on('end', () => resolve());
      });
      client.on('notification', (message) => {
        if (message.payload) this.changed(message.payload);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANGES_CHANNEL}`);
        this.listener = client;
        this.entries.clear(); // anything missed while not listening is forgotten
        this.listening = true;
        await lost;
      } catch {
        // not reachable: try again below
      }
      this.dropAll('the listening connection is down');
      await client.end().catch(() => undefined);
      if (!this.closed) await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS).unref());
    }
  }
}

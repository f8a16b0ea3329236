import { Injectable } from '@nestjs/common';
import { Clock, SystemClock } from '../../common/clock';
import { type ApiKey, isTenantId, withoutExpiredPreviousToken } from '../api-key.record';
import { ApiKeysRepository, assertDecided, type DecideChange } from '../api-keys.repository';
import {
  chainLines,
  type ChainHead,
  type ChainVerdict,
  EMPTY_CHAIN,
  verifyChain,
} from '../audit-chain';
import type { AuditEntry, AuditEvent } from '../audit-entry';
import { AuditTrail } from '../audit-trail';
import { type BalanceChange, BalanceMapLedger, type CreditBalance } from '../credit-ledger';
import {
  type DeliveryCursor,
  type DeliveryWork,
  FRESH_CURSOR,
  WebhookCursors,
} from '../webhook-cursors';
import { TenantChangedError, TenantExistsError, TenantNotFoundError } from '../storage.errors';
import { mergeUsage, type UsageRecord, UsageStore } from '../usage.store';
import { renderSecurityFile, type SecurityDocument, toStoredEntry } from '../yaml/security-file';

/** `read`'s result as a promise, and what it throws as a rejection, as the real stores answer. */
function later<T>(read: () => T): Promise<T> {
  return new Promise((resolve) => resolve(read()));
}

/** One tenant held in memory: its keys in order, its other sections, its audit lines. */
interface MemoryTenant {
  readonly keys: Map<string, ApiKey>;
  sections: Readonly<Record<string, unknown>>;
  audit: string;
  head: ChainHead;
  usage: Map<string, UsageRecord>;
  credits: Map<string, CreditBalance>;
  webhooks: DeliveryCursor;
  /** Writes to the tenant, one after the other. */
  queue: Promise<unknown>;
}

/**
 * Every port in memory, with the same behaviour as the real stores (the contract suite holds
 * them to it): for the service's unit specs, where a real file or database would only slow
 * them down. Tenants exist once added with `addTenant`.
 */
@Injectable()
export class MemoryStorage {
  private readonly tenants = new Map<string, MemoryTenant>();

  constructor(readonly clock: Clock = new SystemClock()) {}

  addTenant(tenantId: string): void {
    if (!isTenantId(tenantId)) throw new TenantNotFoundError(tenantId);
    this.tenants.set(tenantId, {
      keys: new Map(),
      sections: {},
      audit: '',
      head: EMPTY_CHAIN,
      usage: new Map(),
      credits: new Map(),
      webhooks: FRESH_CURSOR,
      queue: Promise.resolve(),
    });
  }

  /** Every tenant's id. */
  tenantIds(): string[] {
    return [...this.tenants.keys()];
  }

  exists(tenantId: string): boolean {
    return this.tenants.has(tenantId);
  }

  tenant(tenantId: string): MemoryTenant {
    const tenant = this.tenants.get(tenantId);
    if (!tenant) throw new TenantNotFoundError(tenantId);
    return tenant;
  }

  /** Runs `write` after the tenant's earlier writes. */
  serialized<T>(tenantId: string, write: (tenant: MemoryTenant) => T | Promise<T>): Promise<T> {
    return later(() => this.tenant(tenantId)).then((tenant) => {
      const done = tenant.queue.then(() => write(tenant));
      tenant.queue = done.catch(() => undefined);
      return done;
    });
  }

  record(tenant: MemoryTenant, events: readonly AuditEvent[]): void {
    if (events.length === 0) return;
    const lines = chainLines(tenant.head, events, new Date(this.clock.now()).toISOString());
    tenant.audit += lines.text;
    tenant.head = lines.head;
  }

  /** The housekeeping every write does: previous tokens past their grace are dropped. */
  dropExpiredPreviousTokens(tenant: MemoryTenant): void {
    for (const [name, key] of tenant.keys) {
      tenant.keys.set(name, withoutExpiredPreviousToken(key, this.clock.now()));
    }
  }
}

/** The key-store port over MemoryStorage. */
@Injectable()
export class MemoryApiKeysRepository extends ApiKeysRepository {
  constructor(private readonly storage: MemoryStorage) {
    super();
  }

  healthy(): Promise<boolean> {
    return Promise.resolve(true);
  }

  createTenant(tenantId: string): Promise<void> {
    return later(() => {
      if (this.storage.exists(tenantId)) throw new TenantExistsError(tenantId);
      this.storage.addTenant(tenantId);
    });
  }

  list(tenantId: string): Promise<readonly ApiKey[]> {
    return this.reading(tenantId, (tenant) => [...tenant.keys.values()]);
  }

  findByName(tenantId: string, name: string): Promise<ApiKey | undefined> {
    return this.reading(tenantId, (tenant) => tenant.keys.get(name));
  }

  findByHash(tenantId: string, hash: string): Promise<ApiKey | undefined> {
    return this.reading(tenantId, (tenant) =>
      [...tenant.keys.values()].find((key) => key.hash === hash || key.previousHash === hash),
    );
  }

  async findEverywhereByHash(hash: string): Promise<Array<{ tenantId: string; key: ApiKey }>> {
    const found: Array<{ tenantId: string; key: ApiKey }> = [];
    for (const tenantId of this.storage.tenantIds()) {
      const key = await this.findByHash(tenantId, hash);
      if (key) found.push({ tenantId, key });
    }
    return found;
  }

  change<T>(tenantId: string, name: string, decide: DecideChange<T>): Promise<T> {
    return this.storage.serialized(tenantId, (tenant) => {
      const decision = assertDecided(decide(tenant.keys.get(name)), name);
      if (decision.key === null) tenant.keys.delete(name);
      else tenant.keys.set(name, decision.key);
      this.storage.dropExpiredPreviousTokens(tenant);
      this.storage.record(tenant, decision.event ? [decision.event] : []);
      return decision.result;
    });
  }

  exportText(tenantId: string): Promise<string> {
    return this.reading(tenantId, (tenant) =>
      renderSecurityFile({
        sections: tenant.sections,
        entries: [...tenant.keys.values()].map((key) => toStoredEntry(key)),
      }),
    );
  }

  replaceAll(
    tenantId: string,
    next: { readonly text: string; readonly document: SecurityDocument },
    audit: (before: readonly ApiKey[], after: readonly ApiKey[]) => AuditEvent[],
    expectedText?: string,
  ): Promise<void> {
    return this.storage.serialized(tenantId, async (tenant) => {
      if (expectedText !== undefined && (await this.exportText(tenantId)) !== expectedText) {
        throw new TenantChangedError(tenantId);
      }
      const after = next.document.entries.map((entry) => entry.key);
      const events = audit([...tenant.keys.values()], after);
      tenant.keys.clear();
      for (const key of after) tenant.keys.set(key.name, key);
      tenant.sections = next.document.sections;
      this.storage.record(tenant, events);
    });
  }

  private reading<T>(tenantId: string, read: (tenant: MemoryTenant) => T): Promise<T> {
    return later(() => read(this.storage.tenant(tenantId)));
  }
}

/** The audit-trail port over MemoryStorage. */
@Injectable()
export class MemoryAuditTrail extends AuditTrail {
  constructor(private readonly storage: MemoryStorage) {
    super();
  }

  page(tenantId: string, limit: number, before = Infinity): Promise<AuditEntry[]> {
    return later(() =>
      this.storage
        .tenant(tenantId)
        .audit.split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEntry)
        .filter((entry) => entry.seq < before)
        .slice(-limit)
        .reverse(),
    );
  }

  head(tenantId: string): Promise<number> {
    return later(() => this.storage.tenant(tenantId).head.seq);
  }

  verify(tenantId: string): Promise<ChainVerdict> {
    return later(() => {
      const tenant = this.storage.tenant(tenantId);
      return verifyChain(tenant.audit, { head: tenant.head });
    });
  }
}

/** The usage port over MemoryStorage. */
@Injectable()
export class MemoryUsageStore extends UsageStore {
  constructor(private readonly storage: MemoryStorage) {
    super();
  }

  read(tenantId: string): Promise<ReadonlyMap<string, UsageRecord>> {
    return later(() => this.storage.tenant(tenantId).usage);
  }

  save(tenantId: string, uses: ReadonlyMap<string, UsageRecord>): Promise<void> {
    return later(() => {
      const tenant = this.storage.tenant(tenantId);
      tenant.usage = mergeUsage(tenant.usage, uses);
    });
  }
}

/** The credit ledger over MemoryStorage. */
@Injectable()
export class MemoryCreditLedger extends BalanceMapLedger {
  constructor(private readonly storage: MemoryStorage) {
    super(storage.clock);
  }

  protected stored(tenantId: string): Promise<ReadonlyMap<string, CreditBalance>> {
    return later(() => this.storage.tenant(tenantId).credits);
  }

  protected update<T>(tenantId: string, change: BalanceChange<T>): Promise<T> {
    return this.storage.serialized(
      tenantId,
      (tenant) => change(tenant.credits, this.clock.now()).result,
    );
  }
}

/** Webhook cursors over MemoryStorage; one process, so a claim is only a guard against itself. */
@Injectable()
export class MemoryWebhookCursors extends WebhookCursors {
  private started?: string;
  private readonly claimed = new Set<string>();

  constructor(private readonly storage: MemoryStorage) {
    super();
  }

  since(now: string): Promise<string> {
    this.started ??= now;
    return Promise.resolve(this.started);
  }

  tenants(): Promise<string[]> {
    return Promise.resolve(this.storage.tenantIds());
  }

  cursor(tenantId: string): Promise<DeliveryCursor> {
    return later(() => this.storage.tenant(tenantId).webhooks);
  }

  async claim(tenantId: string, work: DeliveryWork): Promise<boolean> {
    const tenant = this.storage.tenant(tenantId);
    if (this.claimed.has(tenantId)) return false;
    this.claimed.add(tenantId);
    try {
      await work(tenant.webhooks, (cursor) => later(() => void (tenant.webhooks = cursor)));
      return true;
    } finally {
      this.claimed.delete(tenantId);
    }
  }
}

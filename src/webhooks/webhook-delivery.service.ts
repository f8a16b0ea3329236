import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Webhook } from 'standardwebhooks';
import { Clock } from '../common/clock';
import { Metrics } from '../common/metrics';
import { webhooksConfig } from '../config/webhooks.config';
import { ApiKeysRepository } from '../storage/api-keys.repository';
import { AuditTrail } from '../storage/audit-trail';
import { ChangeFeed } from '../storage/change-feed';
import { type DeliveryCursor, WebhookCursors } from '../storage/webhook-cursors';
import {
  auditMessage,
  expiresSoon,
  expiringMessage,
  expiringNotice,
  type WebhookMessage,
} from './webhook-events';

/** How often every tenant is looked at, for changes other processes made and for expiries. */
export const SWEEP_MS = 5_000;
/** How often a tenant's keys are read for expiry notices while nothing changes them. */
const EXPIRY_CHECK_MS = 60_000;
/** Retries back off from this, doubling, to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 300_000;
const DELIVERY_TIMEOUT_MS = 10_000;
/** Audit lines read at once. */
const BATCH = 100;

/**
 * Key events to the platform: every line of each tenant's audit trail (create, update, rotate,
 * delete, leak) and an `api_key.expiring` notice EXPIRING_NOTICE_DAYS before a key expires,
 * POSTed to WEBHOOK_URL as JSON signed per Standard Webhooks (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`; the `standardwebhooks` package). The audit trail is
 * the outbox: a cursor per tenant says what was delivered, moved only after a 2xx, so delivery
 * is at least once, in order per tenant (the next waits for the one before), resumed after a
 * restart, and one process at a time delivers a tenant (its claim). A failure is retried with
 * backoff (1 s doubling to 5 min), the tenant's later events waiting. Lines written before
 * deliveries first began are not sent.
 */
@Injectable()
export class WebhookDelivery implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDelivery.name);
  private signer?: Webhook;
  private since?: string;
  private sweeper?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private closed = false;
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly expiryChecked = new Map<string, number>();

  constructor(
    @Inject(webhooksConfig.KEY) private readonly config: ConfigType<typeof webhooksConfig>,
    private readonly cursors: WebhookCursors,
    private readonly trail: AuditTrail,
    private readonly repository: ApiKeysRepository,
    private readonly feed: ChangeFeed,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.url || !this.config.secret) return;
    this.signer = new Webhook(this.config.secret);
    this.unsubscribe = this.feed.subscribe((tenantId) => this.schedule(tenantId));
    // Before the first request: what it changes is after `since`. A store not reachable yet is
    // asked again at each sweep.
    await this.knowSince().catch(() => undefined);
    void this.sweep();
  }

  private async knowSince(): Promise<string> {
    this.since ??= await this.cursors.since(new Date(this.clock.now()).toISOString());
    return this.since;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    clearTimeout(this.sweeper);
    for (const timer of this.retries.values()) clearTimeout(timer);
    await Promise.allSettled([...this.running.values()]);
  }

  /** Every tenant looked at, then again in SWEEP_MS; the pending gauge brought up to date. */
  private async sweep(): Promise<void> {
    try {
      await this.knowSince();
      let pending = 0;
      for (const tenantId of await this.cursors.tenants()) {
        const [head, cursor] = await Promise.all([
          this.trail.head(tenantId).catch(() => 0),
          this.cursors.cursor(tenantId).catch(() => undefined),
        ]);
        if (cursor) pending += Math.max(0, head - cursor.delivered);
        this.schedule(tenantId);
      }
      this.metrics.webhooksPending.set(pending);
    } catch (error) {
      this.logger.warn(
        `webhook sweep failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      if (!this.closed) {
        this.sweeper = setTimeout(() => void this.sweep(), SWEEP_MS);
        this.sweeper.unref();
      }
    }
  }

  /** Delivers what the tenant has pending, unless it is waiting for a retry or in delivery. */
  private schedule(tenantId: string): void {
    if (this.closed || this.since === undefined || this.retries.has(tenantId)) return;
    if (this.running.has(tenantId)) {
      this.again.add(tenantId);
      return;
    }
    const run = this.deliver(tenantId).finally(() => {
      this.running.delete(tenantId);
      if (this.again.delete(tenantId)) this.schedule(tenantId);
    });
    this.running.set(tenantId, run);
  }

  private async deliver(tenantId: string): Promise<void> {
    try {
      let delivered = true;
      await this.cursors.claim(tenantId, async (cursor, save) => {
        delivered = await this.deliverTrail(tenantId, cursor, save);
      });
      if (delivered) this.failures.delete(tenantId);
      else this.retryLater(tenantId);
    } catch (error) {
      this.logger.warn(
        `webhook delivery for ${tenantId} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      this.retryLater(tenantId);
    }
  }

  /** The trail's new lines in order, then any expiry notice due; false at the first failure. */
  private async deliverTrail(
    tenantId: string,
    start: DeliveryCursor,
    save: (cursor: DeliveryCursor) => Promise<void>,
  ): Promise<boolean> {
    let cursor = start;
    const head = await this.trail.head(tenantId);
    while (cursor.delivered < head) {
      const entries = (await this.trail.after(tenantId, cursor.delivered, BATCH)).filter(
        (entry) => entry.seq <= head,
      );
      if (entries.length === 0) break;
      for (const entry of entries) {
        const fresh = entry.time >= (this.since as string);
        if (fresh && !(await this.post(auditMessage(tenantId, entry)))) return false;
        cursor = { ...cursor, delivered: entry.seq };
        await save(cursor);
      }
    }
    // Keys are read for expiries after a change (a new expiry counts at once), else once a minute.
    const now = this.clock.now();
    const changed = cursor.delivered !== start.delivered;
    if (!changed && now - (this.expiryChecked.get(tenantId) ?? -Infinity) < EXPIRY_CHECK_MS) {
      return true;
    }
    // A tenant whose keys cannot be read now (an invalid file) holds up no audit line.
    const keys = await this.repository.list(tenantId).catch(() => undefined);
    this.expiryChecked.set(tenantId, now);
    if (!keys) return true;
    // Notices of keys gone or expired are forgotten; one for each key expiring soon is sent once.
    const live = new Set(keys.filter((key) => expiresSoon(key, now)).map(expiringNotice));
    let expiring = cursor.expiring.filter((notice) => live.has(notice));
    for (const key of keys.filter((k) => expiresSoon(k, now))) {
      const notice = expiringNotice(key);
      if (expiring.includes(notice)) continue;
      if (!(await this.post(expiringMessage(tenantId, key, now)))) return false;
      expiring = [...expiring, notice];
      cursor = { ...cursor, expiring };
      await save(cursor);
    }
    if (expiring.length !== cursor.expiring.length) await save({ ...cursor, expiring });
    return true;
  }

  /** One signed POST; true for a 2xx answer. */
  private async post(message: WebhookMessage): Promise<boolean> {
    const timestamp = new Date(this.clock.now());
    let delivered = false;
    try {
      const response = await fetch(this.config.url as string, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'tenant-api-keys',
          'webhook-id': message.id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': (this.signer as Webhook).sign(message.id, timestamp, message.body),
        },
        body: message.body,
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      delivered = response.ok;
      if (!delivered) this.logger.warn(`webhook ${message.id} answered ${response.status}`);
    } catch (error) {
      this.logger.warn(
        `webhook ${message.id} not delivered: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    this.metrics.webhookDeliveries.inc({ result: delivered ? 'delivered' : 'failed' });
    return delivered;
  }

  private retryLater(tenantId: string): void {
    if (this.closed) return;
    const failures = (this.failures.get(tenantId) ?? 0) + 1;
    this.failures.set(tenantId, failures);
    const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failures - 1));
    const timer = setTimeout(() => {
      this.retries.delete(tenantId);
      this.schedule(tenantId);
    }, delay);
    timer.unref();
    this.retries.set(tenantId, timer);
  }
}

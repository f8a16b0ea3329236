/** How far a tenant's webhook deliveries have got. */
export interface DeliveryCursor {
  /** The `seq` of the last audit line delivered (or passed over, as older than deliveries). */
  readonly delivered: number;
  /** The expiry notices sent, as `<key name>@<expiresAt>`. */
  readonly expiring: readonly string[];
}

/** What runs under a tenant's delivery claim: its cursor, and how to store a moved one. */
export type DeliveryWork = (
  cursor: DeliveryCursor,
  save: (cursor: DeliveryCursor) => Promise<void>,
) => Promise<void>;

export const FRESH_CURSOR: DeliveryCursor = { delivered: 0, expiring: [] };

/**
 * Where webhook delivery keeps its place in each tenant's audit trail, the durable outbox it
 * follows: the port, and its injection token. A cursor moves only under the tenant's delivery
 * claim, which one process holds at a time, so two replicas never deliver one event both
 * (unless the one holding it dies mid-delivery: then the event is delivered again, at least once).
 */
export abstract class WebhookCursors {
  /** When deliveries began here, recorded by the first call (`now`): older lines are not sent. */
  abstract since(now: string): Promise<string>;

  /** Every tenant there is. */
  abstract tenants(): Promise<string[]>;

  /** The tenant's cursor as stored (FRESH_CURSOR before its first delivery). */
  abstract cursor(tenantId: string): Promise<DeliveryCursor>;

  /**
   * Runs `work` holding the tenant's delivery claim, with its cursor; `save` stores a moved
   * cursor durably. Resolves false, running nothing, while another process holds the claim.
   */
  abstract claim(tenantId: string, work: DeliveryWork): Promise<boolean>;
}

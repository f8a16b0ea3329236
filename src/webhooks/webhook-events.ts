import type { ApiKey } from '../storage/api-key.record';
import type { AuditEntry } from '../storage/audit-entry';

/** The days before a key expires at which `api_key.expiring` is sent. */
export const EXPIRING_NOTICE_DAYS = 7;

const TYPES: Record<AuditEntry['action'], string> = {
  create: 'api_key.created',
  update: 'api_key.updated',
  rotate: 'api_key.rotated',
  delete: 'api_key.deleted',
  leak: 'api_key.leaked',
};

/** One message to the platform: its Standard Webhooks id (stable, for deduplication) and body. */
export interface WebhookMessage {
  readonly id: string;
  readonly body: string;
}

/**
 * An audit line as a webhook: `{ type, timestamp, data }`, the data being the line's public
 * part (tenant, key, seq, actor, request id, changes, and a leak's url and source). Never the
 * chain's hashes, and an audit line never holds a token or a key's hash.
 */
export function auditMessage(tenantId: string, entry: AuditEntry): WebhookMessage {
  const data = {
    tenant: tenantId,
    key: entry.key,
    seq: entry.seq,
    actor: entry.actor,
    requestId: entry.requestId,
    changes: entry.changes,
    ...(entry.url !== undefined && { url: entry.url }),
    ...(entry.source !== undefined && { source: entry.source }),
  };
  return {
    id: `${tenantId}:${entry.seq}`,
    body: JSON.stringify({ type: TYPES[entry.action], timestamp: entry.time, data }),
  };
}

/** How an expiry notice is remembered: the key and the instant, so a new expiry is told again. */
export function expiringNotice(key: ApiKey): string {
  return `${key.name}@${key.expiresAt ?? ''}`;
}

/** The key expires within EXPIRING_NOTICE_DAYS of `now` (and has not yet). */
export function expiresSoon(key: ApiKey, now: number): boolean {
  if (key.expiresAt === undefined) return false;
  const at = Date.parse(key.expiresAt);
  return at > now && at - now <= EXPIRING_NOTICE_DAYS * 86_400_000;
}

export function expiringMessage(tenantId: string, key: ApiKey, now: number): WebhookMessage {
  return {
    id: `${tenantId}:expiring:${expiringNotice(key)}`,
    body: JSON.stringify({
      type: 'api_key.expiring',
      timestamp: new Date(now).toISOString(),
      data: { tenant: tenantId, key: key.name, expiresAt: key.expiresAt },
    }),
  };
}

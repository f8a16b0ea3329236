import { createHash } from 'node:crypto';
import type { IfMatch } from '../common/if-match';
import type { ApiKey } from '../storage/api-key.record';

/** Permissions in their first-seen order, duplicates dropped. */
export function uniquePermissions(permissions: readonly string[]): string[] {
  return [...new Set(permissions)];
}

/** Keys are immutable records (a change makes a new one): each is tagged once. */
const entityTags = new WeakMap<ApiKey, string>();

/**
 * A strong entity tag for the key's stored public state: it changes whenever anything a client
 * can read of it changes (enabled, permissions, expiry, hint, updatedAt), and never reveals a
 * hash. `lastUsedAt` is not part of it: using a key does not make a client's copy stale.
 */
export function entityTagOf(key: ApiKey): string {
  let tag = entityTags.get(key);
  if (tag === undefined) {
    const state = JSON.stringify([
      key.name,
      key.enabled,
      key.permissions,
      key.createdAt,
      key.updatedAt,
      key.expiresAt,
      key.hint,
      key.previousHashExpiresAt,
      key.owner,
      key.rateLimit,
      key.credits,
      key.allowedIps,
      key.meta,
      key.leakedAt,
    ]);
    tag = `"${createHash('sha256').update(state).digest('base64url').slice(0, 27)}"`;
    entityTags.set(key, tag);
  }
  return tag;
}

/** Whether the key's current tag satisfies the condition (strong comparison: weak tags never match). */
export function satisfiesIfMatch(key: ApiKey, condition: IfMatch): boolean {
  return condition === '*' || condition.includes(entityTagOf(key));
}

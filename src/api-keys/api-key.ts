import { createHash } from 'node:crypto';
import type { IfMatch } from '../common/if-match';
import type { ApiKey } from '../storage/api-key.record';

/** Permissions in their first-seen order, duplicates dropped. */
export function uniquePermissions(permissions: readonly string[]): string[] {
  return [...new Set(permissions)];
}

/**
 * A strong entity tag for the key's stored public state: it changes whenever anything a client
 * can read of it changes (enabled, permissions, expiry, hint, updatedAt), and never reveals a
 * hash. `lastUsedAt` is not part of it: using a key does not make a client's copy stale.
 */
export function entityTagOf(key: ApiKey): string {
  const state = JSON.stringify([
    key.name,
    key.enabled,
    key.permissions,
    key.createdAt,
    key.updatedAt,
    key.expiresAt,
    key.hint,
    key.previousHashExpiresAt,
  ]);
  return `"${createHash('sha256').update(state).digest('base64url').slice(0, 27)}"`;
}

/** Whether the key's current tag satisfies the condition (strong comparison: weak tags never match). */
export function satisfiesIfMatch(key: ApiKey, condition: IfMatch): boolean {
  return condition === '*' || condition.includes(entityTagOf(key));
}

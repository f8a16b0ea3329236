import type { ApiKey } from './api-key';

/** Why a presented token does not authenticate, as gateways and problem bodies name it. */
export type Refusal = 'NOT_FOUND' | 'DISABLED' | 'EXPIRED';

/** Whether the key has expired at `now`: from its `expiresAt` instant on, it authenticates nowhere. */
export function hasExpired(key: ApiKey, now: number): boolean {
  return key.expiresAt !== undefined && now >= Date.parse(key.expiresAt);
}

/** Until when the token a rotation replaced still works; undefined when it no longer does. */
export function previousTokenValidUntil(key: ApiKey, now: number): string | undefined {
  if (key.previousHash === undefined || key.previousHashExpiresAt === undefined) return undefined;
  return now < Date.parse(key.previousHashExpiresAt) ? key.previousHashExpiresAt : undefined;
}

/**
 * The one rule for whether the token whose hash is `hash` authenticates as `key` at `now`, read
 * by every path that authenticates: its current token, or the one a rotation replaced while
 * its grace period lasts (then with the same permissions and enabled state); an enabled key;
 * one that has not expired. Returns why not, or undefined when it does.
 */
export function refusalOf(key: ApiKey | undefined, hash: string, now: number): Refusal | undefined {
  if (!key) return 'NOT_FOUND';
  const current = key.hash === hash;
  if (!current && !(key.previousHash === hash && previousTokenValidUntil(key, now))) {
    return 'NOT_FOUND';
  }
  if (!key.enabled) return 'DISABLED';
  if (hasExpired(key, now)) return 'EXPIRED';
  return undefined;
}

/** The key without a previous token whose grace period is over (dropped at the next write). */
export function withoutExpiredPreviousToken(key: ApiKey, now: number): ApiKey {
  if (key.previousHash === undefined || previousTokenValidUntil(key, now)) return key;
  const rest: { -readonly [K in keyof ApiKey]: ApiKey[K] } = { ...key };
  delete rest.previousHash;
  delete rest.previousHashExpiresAt;
  return rest;
}

/** What people see to tell keys apart: the token's first 8 characters, `...`, its last 4. */
export function hintOf(token: string): string {
  return `${token.slice(0, 8)}...${token.slice(-4)}`;
}

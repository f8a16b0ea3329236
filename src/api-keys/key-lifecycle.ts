import { type ApiKey, previousTokenValidUntil } from '../storage/api-key.record';

/** Why a presented token does not authenticate, as gateways and problem bodies name it. */
export type TokenRefusal = 'NOT_FOUND' | 'DISABLED' | 'EXPIRED';

/** Whether the key has expired at `now`: from its `expiresAt` instant on, it authenticates nowhere. */
export function hasExpired(key: ApiKey, now: number): boolean {
  return key.expiresAt !== undefined && now >= Date.parse(key.expiresAt);
}

/**
 * The one rule for whether the token whose hash is `hash` authenticates as `key` at `now`, read
 * by every path that authenticates: its current token, or the one a rotation replaced while
 * its grace period lasts (then with the same permissions and enabled state); an enabled key;
 * one that has not expired. Returns why not, or undefined when it does.
 */
export function refusalOf(
  key: ApiKey | undefined,
  hash: string,
  now: number,
): TokenRefusal | undefined {
  if (!key) return 'NOT_FOUND';
  const current = key.hash === hash;
  if (!current && !(key.previousHash === hash && previousTokenValidUntil(key, now))) {
    return 'NOT_FOUND';
  }
  if (!key.enabled) return 'DISABLED';
  if (hasExpired(key, now)) return 'EXPIRED';
  return undefined;
}

/** What people see to tell keys apart: the token's first 8 characters, `...`, its last 4. */
export function hintOf(token: string): string {
  return `${token.slice(0, 8)}...${token.slice(-4)}`;
}

import { createHash } from 'node:crypto';

/** One API key as the service knows it. The token itself is never stored, only its hash. */
export interface ApiKey {
  readonly name: string;
  readonly enabled: boolean;
  /** Scopes the key grants; `*` and trailing-`*` wildcards allowed. */
  readonly permissions: readonly string[];
  /** Lowercase hex SHA-256 of the full token. */
  readonly hash: string;
  readonly createdAt?: string;
  readonly updatedAt?: string;
  /** From this instant on the key authenticates nowhere (ISO 8601). */
  readonly expiresAt?: string;
  /** The token's first 8 characters, `...`, its last 4: for keys the service minted. */
  readonly hint?: string;
  /** The hash of the token a rotation replaced, valid until `previousHashExpiresAt`. */
  readonly previousHash?: string;
  readonly previousHashExpiresAt?: string;
}

/** The optional fields of an entry, in the order the service writes them. */
export const OPTIONAL_KEY_FIELDS = [
  'createdAt',
  'updatedAt',
  'expiresAt',
  'hint',
  'previousHash',
  'previousHashExpiresAt',
] as const;

/** A tenant folder name: 1–64 of `[A-Za-z0-9._-]`, not starting with a dot. */
export const TENANT_ID_PATTERN = /^(?!\.)[A-Za-z0-9._-]{1,64}$/;
/** A key name: 1–128 of `[A-Za-z0-9._-]`. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
/** A permission: 1–128 of `[A-Za-z0-9._:*-]`. */
export const PERMISSION_PATTERN = /^[A-Za-z0-9._:*-]{1,128}$/;
export const MAX_PERMISSIONS = 64;
/** The stored form of a token: lowercase hex SHA-256 (uppercase hex is accepted from hand edits). */
export const HASH_PATTERN = /^[0-9a-fA-F]{64}$/;

/** An ISO 8601 instant: a date, a time, and a zone (`2027-01-31T00:00:00Z`, `...+01:00`). */
export const INSTANT_PATTERN =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export function isTenantId(value: string): boolean {
  return TENANT_ID_PATTERN.test(value);
}

export function isKeyName(value: string): boolean {
  return KEY_NAME_PATTERN.test(value);
}

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

/** An `If-Match` condition: `*` (any current version) or a list of strong tags. */
export type IfMatch = '*' | readonly string[];

/** Whether the key's current tag satisfies the condition (strong comparison: weak tags never match). */
export function satisfiesIfMatch(key: ApiKey, condition: IfMatch): boolean {
  return condition === '*' || condition.includes(entityTagOf(key));
}

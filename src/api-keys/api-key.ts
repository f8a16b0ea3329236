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
}

/** A tenant folder name: 1–64 of `[A-Za-z0-9._-]`, not starting with a dot. */
export const TENANT_ID_PATTERN = /^(?!\.)[A-Za-z0-9._-]{1,64}$/;
/** A key name: 1–128 of `[A-Za-z0-9._-]`. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
/** A permission: 1–128 of `[A-Za-z0-9._:*-]`. */
export const PERMISSION_PATTERN = /^[A-Za-z0-9._:*-]{1,128}$/;
export const MAX_PERMISSIONS = 64;
/** The stored form of a token: lowercase hex SHA-256 (uppercase hex is accepted from hand edits). */
export const HASH_PATTERN = /^[0-9a-fA-F]{64}$/;

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
 * A strong entity tag for the key's public state: it changes whenever anything a client can
 * read of the key changes (enabled, permissions, updatedAt), and never reveals the hash.
 */
export function entityTagOf(key: ApiKey): string {
  const state = JSON.stringify([
    key.name,
    key.enabled,
    key.permissions,
    key.createdAt,
    key.updatedAt,
  ]);
  return `"${createHash('sha256').update(state).digest('base64url').slice(0, 27)}"`;
}

/** An `If-Match` condition: `*` (any current version) or a list of strong tags. */
export type IfMatch = '*' | readonly string[];

/** Whether the key's current tag satisfies the condition (strong comparison: weak tags never match). */
export function satisfiesIfMatch(key: ApiKey, condition: IfMatch): boolean {
  return condition === '*' || condition.includes(entityTagOf(key));
}

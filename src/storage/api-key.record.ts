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
  /** The tenant's own customer or user the key belongs to (same characters as a name). */
  readonly owner?: string;
  /** At most `limit` verifications per `periodSeconds`. */
  readonly rateLimit?: RateLimit;
  /** Uses granted: `remaining` as granted (spending is kept beside the keys), and its refill. */
  readonly credits?: Credits;
  /** Addresses and CIDR ranges the key may be presented from; absent or empty: any. */
  readonly allowedIps?: readonly string[];
  /** Free JSON for the platform, handed to the protected API with each verification. */
  readonly meta?: KeyMeta;
  /** When a secret scanner reported one of the key's tokens leaked (cleared by a rotation). */
  readonly leakedAt?: string;
}

export interface RateLimit {
  readonly limit: number;
  readonly periodSeconds: number;
}

export interface Credits {
  readonly remaining: number;
  /** Once per `intervalSeconds`, `remaining` is set back to `amount`. */
  readonly refill?: { readonly amount: number; readonly intervalSeconds: number };
}

export type KeyMeta = Readonly<Record<string, unknown>>;

/** The optional fields of an entry, in the order the service writes them. */
export const OPTIONAL_KEY_FIELDS = [
  'createdAt',
  'updatedAt',
  'expiresAt',
  'hint',
  'previousHash',
  'previousHashExpiresAt',
  'owner',
  'rateLimit',
  'credits',
  'allowedIps',
  'meta',
  'leakedAt',
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

/** Until when the token a rotation replaced still works; undefined when it no longer does. */
export function previousTokenValidUntil(key: ApiKey, now: number): string | undefined {
  if (key.previousHash === undefined || key.previousHashExpiresAt === undefined) return undefined;
  return now < Date.parse(key.previousHashExpiresAt) ? key.previousHashExpiresAt : undefined;
}

/** The key without a previous token whose grace period is over (dropped at the next write). */
export function withoutExpiredPreviousToken(key: ApiKey, now: number): ApiKey {
  if (key.previousHash === undefined || previousTokenValidUntil(key, now)) return key;
  const rest: { -readonly [K in keyof ApiKey]: ApiKey[K] } = { ...key };
  delete rest.previousHash;
  delete rest.previousHashExpiresAt;
  return rest;
}

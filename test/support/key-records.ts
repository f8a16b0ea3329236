import type { ApiKey } from '../../src/storage/api-key.record';

/** A well-formed stored hash, distinct per `n`. */
export const hashOf = (n: number): string => `c${n.toString(16).padStart(63, '0')}`;

/** A stored key record for specs of the storage ports: enabled, read-only, hash `hashOf(n)`. */
export const keyRecord = (name: string, n: number, fields: Partial<ApiKey> = {}): ApiKey => ({
  name,
  enabled: true,
  permissions: ['tenant.apiKey:read'],
  hash: hashOf(n),
  ...fields,
});

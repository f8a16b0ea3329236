import type { AuditEvent } from './audit-entry';
import type { ApiKey } from './api-key.record';
import type { SecurityDocument } from './yaml/security-file';

/** The keys of one tenant as a change sees them; what it does is applied only if it returns. */
export interface ApiKeyChanges {
  get(name: string): ApiKey | undefined;
  /** Adds the key, or replaces the key of the same name where it stands. */
  put(key: ApiKey): void;
  /** Removes the key; false when there was none of that name. */
  delete(name: string): boolean;
  /** Adds a line to the tenant's audit trail, written with the change or not at all. */
  record(event: AuditEvent): void;
}

/**
 * Where a tenant's keys live: the port of the storage, and its injection token.
 * Every method throws TenantNotFoundError for a tenant that does not exist (or whose id is not
 * a valid tenant id), and TenantFileInvalidError while its file cannot be used.
 */
export abstract class ApiKeysRepository {
  /** The tenant's keys in file order. */
  abstract list(tenantId: string): Promise<readonly ApiKey[]>;

  abstract findByName(tenantId: string, name: string): Promise<ApiKey | undefined>;

  /** The key whose stored hash is `hash` (lowercase hex SHA-256). */
  abstract findByHash(tenantId: string, hash: string): Promise<ApiKey | undefined>;

  /**
   * Runs `change` against the tenant's current keys and stores the result durably before
   * resolving with what `change` returned, its audit events appended and synced as well. If
   * `change` throws, nothing it did is kept and the promise rejects with its error. Changes to
   * one tenant never interleave.
   */
  abstract change<T>(tenantId: string, change: (keys: ApiKeyChanges) => T): Promise<T>;

  /** The tenant's keys and other sections as a security.yml text. */
  abstract exportText(tenantId: string): Promise<string>;

  /**
   * Replaces everything the tenant holds with `next`, a validated security.yml (kept as written
   * where the storage can), recording the events `audit` derives from the keys before and after,
   * in one write. With `expectedText`, only if the tenant still exports exactly that text
   * (TenantChangedError otherwise). A tenant whose current file is invalid may be replaced.
   */
  abstract replaceAll(
    tenantId: string,
    next: { readonly text: string; readonly document: SecurityDocument },
    audit: (before: readonly ApiKey[], after: readonly ApiKey[]) => AuditEvent[],
    expectedText?: string,
  ): Promise<void>;
}

import type { AuditEvent } from './audit-entry';
import type { ApiKey } from './api-key.record';
import type { SecurityDocument } from './yaml/security-file';

/**
 * What a change decides for its one key, from the key as it stands: the key to store (`null`:
 * delete it), the audit line recording it (written with it or not at all), and the answer.
 * Deciding is synchronous: a promise is refused (by type and at run time), since anything a
 * change did after an `await` would escape its all-or-nothing.
 */
export interface KeyDecision<T> {
  readonly key: ApiKey | null;
  readonly event?: AuditEvent;
  readonly result: T;
}

export type DecideChange<T> = (current: ApiKey | undefined) => KeyDecision<T>;

/** Refuses a decision that is a promise: a change must decide synchronously. */
export function assertDecided<T>(decision: KeyDecision<T>, name: string): KeyDecision<T> {
  if (typeof (decision as unknown as PromiseLike<unknown>)?.then === 'function') {
    throw new TypeError('a change must decide synchronously; it returned a promise');
  }
  if (decision.key !== null && decision.key.name !== name) {
    throw new TypeError(`a change of "${name}" may only store that key`);
  }
  return decision;
}

/**
 * Where a tenant's keys live: the port of the storage, and its injection token.
 * Every method throws TenantNotFoundError for a tenant that does not exist (or whose id is not
 * a valid tenant id), and TenantFileInvalidError while its file cannot be used.
 */
export abstract class ApiKeysRepository {
  /** Whether the store can serve now (the folder is usable, the database answers). */
  abstract healthy(): Promise<boolean>;

  /** Makes a tenant exist (a folder, a row); TenantExistsError if it does already. */
  abstract createTenant(tenantId: string): Promise<void>;

  /** The tenant's keys in file order. */
  abstract list(tenantId: string): Promise<readonly ApiKey[]>;

  abstract findByName(tenantId: string, name: string): Promise<ApiKey | undefined>;

  /** The key whose stored hash is `hash` (lowercase hex SHA-256). */
  abstract findByHash(tenantId: string, hash: string): Promise<ApiKey | undefined>;

  /**
   * Every tenant's key whose current token, or the token a rotation replaced, has this hash:
   * for a leak report, which names a token and no tenant.
   */
  abstract findEverywhereByHash(
    hash: string,
  ): Promise<Array<{ readonly tenantId: string; readonly key: ApiKey }>>;

  /**
   * The unit of work of every write: reads the key `name` as it stands, lets `decide` say what
   * becomes of it, and stores that and its audit line durably, together, before resolving with
   * the decision's result. If `decide` throws, nothing is stored and the promise rejects with
   * its error. Changes to one key never interleave.
   */
  abstract change<T>(tenantId: string, name: string, decide: DecideChange<T>): Promise<T>;

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

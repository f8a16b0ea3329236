/** A change a caller made, as the change itself describes it. */
export interface AuditEvent {
  readonly requestId: string;
  /** Who: `api-key:<key name>`, `bearer:<sub>` or `cli:operator`. */
  readonly actor: string;
  readonly action: 'create' | 'update' | 'delete';
  /** The API key changed. */
  readonly key: string;
  /** Each field that changed, `{ from, to }`; null where the key did not exist before or after. */
  readonly changes: Readonly<Record<string, { readonly from: unknown; readonly to: unknown }>>;
}

/** One line of audit.log: the event, when and in what order it was written, and the chain link. */
export interface AuditEntry extends AuditEvent {
  readonly seq: number;
  readonly time: string;
  /** Lowercase hex SHA-256 of the previous line's text (64 zeros for the first line). */
  readonly prev: string;
}

export const AUDIT_FILE = 'audit.log';
export const GENESIS_HASH = '0'.repeat(64);

/** A public field's value in the audit trail (JSON); null where the key did not exist. */
export type FieldValue = boolean | string | number | readonly string[] | object | null;

/** A change a caller made, as the change itself describes it. */
export interface AuditEvent {
  readonly requestId: string;
  /** Who: `api-key:<key name>`, `bearer:<sub>` or `cli:operator`. */
  readonly actor: string;
  readonly action: 'create' | 'update' | 'rotate' | 'delete' | 'leak';
  /** The API key changed. */
  readonly key: string;
  /** Each field that changed, `{ from, to }`; null where the key did not exist before or after. */
  readonly changes: Readonly<
    Record<string, { readonly from: FieldValue; readonly to: FieldValue }>
  >;
  /** For a `leak`: where the scanner found the token, and which scanner (never the token). */
  readonly url?: string;
  readonly source?: string;
}

/** One line of the audit trail: the event, when and in what order it was written, and its links. */
export interface AuditEntry extends AuditEvent {
  readonly seq: number;
  readonly time: string;
  /** The `hash` of the previous line (64 zeros for the first line). */
  readonly prev: string;
  /** Lowercase hex SHA-256 of this line's JSON without this field: an edit to the line shows. */
  readonly hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

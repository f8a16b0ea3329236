import type { AuditEvent } from '../audit-entry';
import { type ApiKey, withoutExpiredPreviousToken } from '../api-key.record';
import { type SecurityDocument, type StoredEntry, toStoredEntry } from './security-file';

/** The hashes a key answers to: its token's, and the one a rotation replaced, while kept. */
function hashesOf(key: ApiKey): string[] {
  return key.previousHash ? [key.hash, key.previousHash] : [key.hash];
}

/** Changes to a tenant's keys by name: the new entry, or null for a deletion. */
type EntryChanges = ReadonlyMap<string, StoredEntry | null>;

/** A parsed security.yml with its lookups built once: by name, and by hash for authentication. */
export class TenantKeys {
  private constructor(
    readonly document: SecurityDocument,
    private readonly byName: ReadonlyMap<string, StoredEntry>,
    private readonly byHash: ReadonlyMap<string, ApiKey>,
  ) {}

  static of(document: SecurityDocument): TenantKeys {
    const byName = new Map<string, StoredEntry>();
    const byHash = new Map<string, ApiKey>();
    for (const entry of document.entries) {
      byName.set(entry.key.name, entry);
      for (const hash of hashesOf(entry.key)) byHash.set(hash, entry.key);
    }
    return new TenantKeys(document, byName, byHash);
  }

  list(): ApiKey[] {
    return this.document.entries.map((entry) => entry.key);
  }

  entry(name: string): StoredEntry | undefined {
    return this.byName.get(name);
  }

  findByName(name: string): ApiKey | undefined {
    return this.byName.get(name)?.key;
  }

  /** The key whose current token, or the token a rotation replaced, has this hash. */
  findByHash(hash: string): ApiKey | undefined {
    return this.byHash.get(hash);
  }

  /** A working copy to apply a batch of changes to, each kept or discarded on its own. */
  edit(): TenantKeysDraft {
    return new TenantKeysDraft(this);
  }

  /** These keys after `changes`: the lookups are copied and patched, not rebuilt entry by entry. */
  withChanges(changes: EntryChanges): TenantKeys {
    const byName = new Map(this.byName);
    const byHash = new Map(this.byHash);
    for (const [name, entry] of changes) {
      const previous = byName.get(name);
      if (previous) for (const hash of hashesOf(previous.key)) byHash.delete(hash);
      if (entry) {
        byName.set(name, entry);
        for (const hash of hashesOf(entry.key)) byHash.set(hash, entry.key);
      } else {
        byName.delete(name);
      }
    }
    const document = { ...this.document, entries: [...byName.values()] };
    return new TenantKeys(document, byName, byHash);
  }
}

/**
 * Changes staged against a TenantKeys. Each change works on its own staged layer; `keep()` or
 * `discard()` settles it, so a change that throws midway leaves nothing behind.
 */
export class TenantKeysDraft {
  private readonly kept = new Map<string, StoredEntry | null>();
  private readonly staged = new Map<string, StoredEntry | null>();
  private readonly keptEvents: AuditEvent[] = [];
  private stagedEvents: AuditEvent[] = [];

  constructor(private readonly base: TenantKeys) {}

  get hasChanges(): boolean {
    return this.kept.size > 0;
  }

  private current(name: string): StoredEntry | undefined {
    for (const layer of [this.staged, this.kept]) {
      const entry = layer.get(name);
      if (entry !== undefined) return entry ?? undefined;
    }
    return this.base.entry(name);
  }

  get(name: string): ApiKey | undefined {
    return this.current(name)?.key;
  }

  put(key: ApiKey): void {
    this.staged.set(key.name, toStoredEntry(key, this.current(key.name)?.raw));
  }

  delete(name: string): boolean {
    if (!this.current(name)) return false;
    this.staged.set(name, null);
    return true;
  }

  record(event: AuditEvent): void {
    this.stagedEvents.push(event);
  }

  /** The audit events of the kept changes, in order. */
  get events(): readonly AuditEvent[] {
    return this.keptEvents;
  }

  /** Drops the tokens rotations replaced whose grace periods are over: unaudited housekeeping. */
  dropExpiredPreviousTokens(now: number): void {
    const names = new Set([
      ...this.base.document.entries.map((e) => e.key.name),
      ...this.kept.keys(),
    ]);
    for (const name of names) {
      const key = this.get(name);
      if (key?.previousHash === undefined) continue;
      const kept = withoutExpiredPreviousToken(key, now);
      if (kept !== key) this.put(kept);
    }
    this.keep();
  }

  keep(): void {
    for (const [name, entry] of this.staged) this.kept.set(name, entry);
    this.keptEvents.push(...this.stagedEvents);
    this.discard();
  }

  discard(): void {
    this.staged.clear();
    this.stagedEvents = [];
  }

  /** The result: the base document's other sections, and the kept entries in order. */
  toTenantKeys(): TenantKeys {
    return this.base.withChanges(this.kept);
  }
}

import type { ApiKey } from './api-key';
import type { ApiKeyChanges } from './api-keys.repository';
import { type SecurityDocument, type StoredEntry, toStoredEntry } from './security-file';

/** A parsed security.yml with its lookups built once: by name, and by hash for authentication. */
export class TenantKeys {
  private readonly byName = new Map<string, StoredEntry>();
  private readonly byHash = new Map<string, ApiKey>();

  constructor(readonly document: SecurityDocument) {
    for (const entry of document.entries) {
      this.byName.set(entry.key.name, entry);
      this.byHash.set(entry.key.hash, entry.key);
    }
  }

  list(): ApiKey[] {
    return this.document.entries.map((entry) => entry.key);
  }

  findByName(name: string): ApiKey | undefined {
    return this.byName.get(name)?.key;
  }

  findByHash(hash: string): ApiKey | undefined {
    return this.byHash.get(hash);
  }

  /** A working copy to apply a batch of changes to, each kept or discarded on its own. */
  edit(): TenantKeysDraft {
    return new TenantKeysDraft(this.document, new Map(this.byName));
  }
}

/**
 * Changes staged against a TenantKeys. `stage()` hands one change its view; `keep()` or
 * `discard()` settles it, so a change that throws midway leaves nothing behind.
 */
export class TenantKeysDraft implements ApiKeyChanges {
  private readonly staged = new Map<string, StoredEntry | null>();
  private changed = false;

  constructor(
    private readonly base: SecurityDocument,
    private readonly entries: Map<string, StoredEntry>,
  ) {}

  get hasChanges(): boolean {
    return this.changed;
  }

  private current(name: string): StoredEntry | undefined {
    const staged = this.staged.get(name);
    return staged === undefined ? this.entries.get(name) : (staged ?? undefined);
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

  keep(): void {
    for (const [name, entry] of this.staged) {
      if (entry) this.entries.set(name, entry);
      else this.entries.delete(name);
      this.changed = true;
    }
    this.staged.clear();
  }

  discard(): void {
    this.staged.clear();
  }

  /** The result: the base document's other sections, and the kept entries in order. */
  toTenantKeys(): TenantKeys {
    return new TenantKeys({ sections: this.base.sections, entries: [...this.entries.values()] });
  }
}

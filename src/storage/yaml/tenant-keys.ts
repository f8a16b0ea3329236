import type { AuditEvent } from '../audit-entry';
import { type ApiKey, withoutExpiredPreviousToken } from '../api-key.record';
import { LayeredMap } from '../../common/layered-map';
import { type SecurityDocument, type StoredEntry, toStoredEntry } from './security-file';

/** The hashes a key answers to: its token's, and the one a rotation replaced, while kept. */
function hashesOf(key: ApiKey): string[] {
  return key.previousHash ? [key.hash, key.previousHash] : [key.hash];
}

/** Changes to a tenant's keys by name: the new entry, or null for a deletion. */
type EntryChanges = ReadonlyMap<string, StoredEntry | null>;

/** When the earliest grace period of a replaced token among `keys` ends (Infinity: none). */
function earliestGraceEnd(keys: Iterable<ApiKey>, from = Infinity): number {
  let earliest = from;
  for (const key of keys) {
    if (key.previousHash === undefined || key.previousHashExpiresAt === undefined) continue;
    const end = Date.parse(key.previousHashExpiresAt);
    earliest = Number.isNaN(end) ? -Infinity : Math.min(earliest, end);
  }
  return earliest;
}

/**
 * A parsed security.yml with its lookups built once: by name, and by hash for authentication.
 * A write derives the next one from the changes alone (see withChanges): with 10,000 keys,
 * rebuilding the lookups cost more than writing the file.
 */
export class TenantKeys {
  private constructor(
    readonly document: SecurityDocument,
    private readonly byName: LayeredMap<string, StoredEntry>,
    private readonly byHash: LayeredMap<string, ApiKey>,
    /**
     * No replaced token's grace period ends before this instant (ms): a lower bound, so that
     * a write need not look at every key for grace periods that ended.
     */
    readonly graceEndsNoEarlierThan: number,
  ) {}

  static of(document: SecurityDocument): TenantKeys {
    const keys = document.entries.map((entry) => entry.key);
    return new TenantKeys(
      document,
      LayeredMap.of(document.entries.map((entry) => [entry.key.name, entry] as const)),
      LayeredMap.of(keys.flatMap((key) => hashesOf(key).map((hash) => [hash, key] as const))),
      earliestGraceEnd(keys),
    );
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

  /**
   * These keys after `changes`, in the file's order: a changed key keeps its place, a new one
   * goes last. `graceEnds`, when the caller looked at every key, replaces the lower bound.
   */
  withChanges(changes: EntryChanges, graceEnds?: number): TenantKeys {
    const hashChanges: Array<readonly [string, ApiKey | null]> = [];
    const added: StoredEntry[] = [];
    let replaces = false;
    for (const [name, entry] of changes) {
      const previous = this.byName.get(name);
      if (previous) {
        replaces = true;
        for (const hash of hashesOf(previous.key)) hashChanges.push([hash, null]);
      } else if (entry) {
        added.push(entry);
      }
      if (entry) for (const hash of hashesOf(entry.key)) hashChanges.push([hash, entry.key]);
    }
    const kept = replaces
      ? this.document.entries.flatMap((entry) => {
          const changed = changes.get(entry.key.name);
          if (changed === undefined) return [entry];
          return changed === null ? [] : [changed];
        })
      : this.document.entries;
    const changed = [...changes.values()].flatMap((entry) => (entry ? [entry.key] : []));
    return new TenantKeys(
      { ...this.document, entries: [...kept, ...added] },
      this.byName.with(changes),
      this.byHash.with(hashChanges),
      graceEnds ?? earliestGraceEnd(changed, this.graceEndsNoEarlierThan),
    );
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
  /** When the earliest remaining grace period ends, once every key has been looked at. */
  private graceEnds?: number;

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

  /**
   * Drops the tokens rotations replaced whose grace periods are over: unaudited housekeeping.
   * Only the changed keys are looked at while no grace period of the others can have ended.
   */
  dropExpiredPreviousTokens(now: number): void {
    const everyKey = now >= this.base.graceEndsNoEarlierThan;
    const names = everyKey
      ? new Set([...this.base.document.entries.map((e) => e.key.name), ...this.kept.keys()])
      : [...this.kept.keys()];
    const remaining: ApiKey[] = [];
    for (const name of names) {
      const key = this.get(name);
      if (key?.previousHash === undefined) continue;
      const kept = withoutExpiredPreviousToken(key, now);
      if (kept !== key) this.put(kept);
      else remaining.push(key);
    }
    if (everyKey) this.graceEnds = earliestGraceEnd(remaining);
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
    return this.base.withChanges(this.kept, this.graceEnds);
  }
}

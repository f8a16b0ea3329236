/** When a key last authenticated, and which key that was (a key re-created under the name is another). */
export interface UsageRecord {
  readonly lastUsedAt: string;
  /** The `createdAt` of the key that was used; absent for hand-made keys. */
  readonly createdAt?: string;
}

/**
 * Where last-used times are kept between flushes: never with the keys themselves (a
 * security.yml kept in Git must not churn with every use). The port, and its injection token.
 */
export abstract class UsageStore {
  /** The tenant's records by key name: at least those of `names`, when given; all otherwise. */
  abstract read(
    tenantId: string,
    names?: readonly string[],
  ): Promise<ReadonlyMap<string, UsageRecord>>;

  /** Merges `uses` into the tenant's records, keeping the later time for the same key. */
  abstract save(tenantId: string, uses: ReadonlyMap<string, UsageRecord>): Promise<void>;
}

/** The same key: same name (the map's key) and same creation. */
export function sameKey(record: UsageRecord | undefined, createdAt: string | undefined): boolean {
  return record !== undefined && record.createdAt === createdAt;
}

/** `uses` merged into `records`: per name, the record of the key used last. */
export function mergeUsage(
  records: ReadonlyMap<string, UsageRecord>,
  uses: ReadonlyMap<string, UsageRecord>,
): Map<string, UsageRecord> {
  const merged = new Map(records);
  for (const [name, use] of uses) {
    const known = merged.get(name);
    if (!known || !sameKey(known, use.createdAt) || known.lastUsedAt < use.lastUsedAt) {
      merged.set(name, use);
    }
  }
  return merged;
}

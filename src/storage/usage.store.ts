/** When a key last authenticated, and which key that was (a key re-created under the name is another). */
export interface UsageRecord {
  readonly lastUsedAt: string;
  /** The `createdAt` of the key that was used; absent for hand-made keys. */
  readonly createdAt?: string;
}

/**
 * How long last-used records once read are reused without asking the store again. Last-used
 * times are accurate to USAGE_FLUSH_SECONDS (another process's uses arrive only at its flush),
 * so a second more costs nothing a reader could rely on, and spares a query (PostgreSQL) or a
 * stat (YAML) per GET of a busy key. A store's own saves are seen at once.
 */
export const USAGE_READ_REUSE_MS = 1000;

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

/** Of a known record and a newer use of the same name, the one to keep: the key used last. */
export function laterUse(
  known: UsageRecord | undefined,
  use: UsageRecord | undefined,
): UsageRecord | undefined {
  if (!use) return known;
  if (!known || !sameKey(known, use.createdAt) || known.lastUsedAt < use.lastUsedAt) return use;
  return known;
}

/** `uses` merged into `records`: per name, the record of the key used last. */
export function mergeUsage(
  records: ReadonlyMap<string, UsageRecord>,
  uses: ReadonlyMap<string, UsageRecord>,
): Map<string, UsageRecord> {
  const merged = new Map(records);
  for (const [name, use] of uses) merged.set(name, laterUse(merged.get(name), use) ?? use);
  return merged;
}

import { ManualClock } from '../src/common/clock';
import type { ApiKey } from '../src/storage/api-key.record';
import { KeyCache } from '../src/storage/postgres/key-cache';
import { PostgresApiKeysRepository } from '../src/storage/postgres/postgres-api-keys.repository';
import { PostgresDatabase } from '../src/storage/postgres/postgres-database';
import { TestDatabase } from './support/database';
import { hashOf, keyRecord } from './support/key-records';

jest.setTimeout(30_000);

describe('the key cache of one replica with AUTH_CACHE_MS (real PostgreSQL)', () => {
  let database: TestDatabase;
  let db: PostgresDatabase;
  let cache: KeyCache;
  let repository: PostgresApiKeysRepository;
  const clock = new ManualClock();

  beforeAll(async () => {
    database = await TestDatabase.create();
    const config = { backend: 'postgres' as const, databaseUrl: database.url, authCacheMs: 60_000 };
    db = new PostgresDatabase(config);
    await db.onModuleInit();
    cache = new KeyCache(config, clock);
    repository = new PostgresApiKeysRepository(db, clock, cache);
    await repository.createTenant('acme');
    // The cache keeps nothing until its listening connection is up.
    for (let i = 0; i < 100; i++) {
      const rows = await database.sql(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN%'`,
      );
      if (rows[0].n === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  afterAll(async () => {
    await cache.onApplicationShutdown();
    await db.onApplicationShutdown();
    await database.drop();
  });

  const put = (k: ApiKey | null, name: string) =>
    repository.change('acme', name, () => ({ key: k, result: undefined }));

  it('serves reads by hash and by name from the copy (a change made behind its back is not seen)', async () => {
    await put(keyRecord('silent', 1), 'silent');
    await new Promise((resolve) => setTimeout(resolve, 300)); // its own NOTIFY has come and gone
    expect((await repository.findByHash('acme', hashOf(1)))?.enabled).toBe(true);
    expect((await repository.findByName('acme', 'silent'))?.enabled).toBe(true);
    await database.sql(`UPDATE api_keys SET enabled = false WHERE name = 'silent'`);
    expect((await repository.findByHash('acme', hashOf(1)))?.enabled).toBe(true);
    expect((await repository.findByName('acme', 'silent'))?.enabled).toBe(true);
    clock.advance(60_000);
    expect((await repository.findByHash('acme', hashOf(1)))?.enabled).toBe(false);
    expect((await repository.findByName('acme', 'silent'))?.enabled).toBe(false);
  });

  it('forgets what it read of a tenant as soon as its own write commits, before its NOTIFY arrives', async () => {
    for (let i = 0; i < 20; i++) {
      const name = `own-${i}`;
      await put(keyRecord(name, 100 + i), name);
      expect(await repository.findByHash('acme', hashOf(100 + i))).toBeDefined();
      expect((await repository.findByName('acme', name))?.enabled).toBe(true);
      await put(keyRecord(name, 100 + i, { enabled: false }), name);
      expect((await repository.findByName('acme', name))?.enabled).toBe(false);
      await put(null, name);
      expect(await repository.findByHash('acme', hashOf(100 + i))).toBeUndefined();
    }
  });
});

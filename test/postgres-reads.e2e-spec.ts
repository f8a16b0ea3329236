import { ManualClock } from '../src/common/clock';
import { PostgresApiKeysRepository } from '../src/storage/postgres/postgres-api-keys.repository';
import { PostgresDatabase } from '../src/storage/postgres/postgres-database';
import { PostgresUsageStore } from '../src/storage/postgres/postgres-usage.store';
import { TenantNotFoundError } from '../src/storage/storage.errors';
import { TestDatabase } from './support/database';
import { hashOf, keyRecord } from './support/key-records';

jest.setTimeout(30_000);

describe('PostgreSQL reads of concurrent requests (real PostgreSQL)', () => {
  let database: TestDatabase;
  let db: PostgresDatabase;
  let repository: PostgresApiKeysRepository;
  let statements = 0;

  beforeAll(async () => {
    database = await TestDatabase.create();
    db = new PostgresDatabase({ backend: 'postgres', databaseUrl: database.url, authCacheMs: 0 });
    await db.onModuleInit();
    repository = new PostgresApiKeysRepository(db, new ManualClock());
    for (const tenant of ['a', 'b']) {
      await repository.createTenant(tenant);
      for (let i = 0; i < 20; i++) {
        const n = (tenant === 'a' ? 0 : 100) + i;
        await repository.change(tenant, `k${i}`, () => ({
          key: keyRecord(`k${i}`, n, { permissions: [`p${n}`] }),
          result: 0,
        }));
      }
    }
    const query = db.query.bind(db);
    db.query = (...args: Parameters<typeof db.query>) => {
      statements++;
      return query(...args);
    };
  });

  afterAll(async () => {
    await db.onApplicationShutdown();
    await database.drop();
  });

  it('answers each of 120 concurrent lookups as it would alone, in a few shared statements', async () => {
    statements = 0;
    const lookups = Array.from({ length: 120 }, (_, i) => {
      const tenant = ['a', 'b', 'ghost'][i % 3];
      const n = (tenant === 'b' ? 100 : 0) + (i % 25);
      return i % 2 === 0
        ? { tenant, kind: 'name', run: () => repository.findByName(tenant, `k${i % 25}`), n }
        : { tenant, kind: 'hash', run: () => repository.findByHash(tenant, hashOf(n)), n };
    });
    const results = await Promise.allSettled(lookups.map((lookup) => lookup.run()));
    results.forEach((result, i) => {
      const { tenant, n } = lookups[i];
      if (tenant === 'ghost') {
        expect(result.status === 'rejected' && result.reason).toBeInstanceOf(TenantNotFoundError);
      } else if (i % 25 >= 20) {
        expect(result).toEqual({ status: 'fulfilled', value: undefined });
      } else {
        expect(result.status === 'fulfilled' && result.value?.permissions).toEqual([`p${n}`]);
      }
    });
    expect(statements).toBeLessThanOrEqual(2);
  });

  it('reads what was acknowledged before the lookup began', async () => {
    await repository.change('a', 'k1', () => ({ key: null, result: 0 }));
    const [byName, byHash] = await Promise.all([
      repository.findByName('a', 'k1'),
      repository.findByHash('a', hashOf(1)),
    ]);
    expect(byName).toBeUndefined();
    expect(byHash).toBeUndefined();
  });

  it("reuses one key's last-used record for a second, and reads it afresh after a save", async () => {
    const clock = new ManualClock();
    const usage = new PostgresUsageStore(db, clock);
    await usage.save('a', new Map([['k2', { lastUsedAt: '2026-11-30T00:00:01.000Z' }]]));
    statements = 0;
    expect((await usage.read('a', ['k2'])).get('k2')?.lastUsedAt).toBe('2026-11-30T00:00:01.000Z');
    clock.advance(999);
    await usage.read('a', ['k2']);
    expect(statements).toBe(1);
    await usage.save('a', new Map([['k2', { lastUsedAt: '2026-11-30T00:00:02.000Z' }]]));
    expect((await usage.read('a', ['k2'])).get('k2')?.lastUsedAt).toBe('2026-11-30T00:00:02.000Z');
    clock.advance(1000);
    statements = 0;
    await usage.read('a', ['k2']);
    expect(statements).toBe(1);
  });
});

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/common/clock';
import type { ApiKey } from '../../src/storage/api-key.record';
import type { ApiKeysRepository } from '../../src/storage/api-keys.repository';
import type { AuditEvent } from '../../src/storage/audit-entry';
import type { AuditTrail } from '../../src/storage/audit-trail';
import { type CreditGrant, type CreditLedger, grantOf } from '../../src/storage/credit-ledger';
import {
  MemoryApiKeysRepository,
  MemoryAuditTrail,
  MemoryCreditLedger,
  MemoryStorage,
  MemoryUsageStore,
} from '../../src/storage/memory/memory-storage';
import { PostgresApiKeysRepository } from '../../src/storage/postgres/postgres-api-keys.repository';
import { PostgresAuditTrail } from '../../src/storage/postgres/postgres-audit-trail';
import { PostgresCreditLedger } from '../../src/storage/postgres/postgres-credit-ledger';
import { PostgresDatabase } from '../../src/storage/postgres/postgres-database';
import { PostgresUsageStore } from '../../src/storage/postgres/postgres-usage.store';
import { TenantChangedError, TenantNotFoundError } from '../../src/storage/storage.errors';
import type { UsageStore } from '../../src/storage/usage.store';
import { parseSecurityFile } from '../../src/storage/yaml/security-file';
import { SecurityFileParser } from '../../src/storage/yaml/security-file-parser';
import { YamlApiKeysRepository } from '../../src/storage/yaml/yaml-api-keys.repository';
import { YamlAuditTrail } from '../../src/storage/yaml/yaml-audit-trail';
import { YamlCreditLedger } from '../../src/storage/yaml/yaml-credit-ledger';
import { YamlUsageStore } from '../../src/storage/yaml/yaml-usage.store';
import { TestDatabase } from '../support/database';
import { hashOf, keyRecord } from '../support/key-records';

/** One backend behind the three ports, with a tenant-making hook and a clock it reads. */
interface Backend {
  readonly repository: ApiKeysRepository;
  readonly trail: AuditTrail;
  readonly usage: UsageStore;
  readonly credits: CreditLedger;
  readonly clock: ManualClock;
  addTenant(tenantId: string): Promise<void>;
  close(): Promise<void>;
}

const BACKENDS: Array<[string, () => Promise<Backend>]> = [
  [
    'yaml',
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'contract-'));
      const clock = new ManualClock();
      const config = { tenantsDir: root, tenantCacheSize: 100 };
      return {
        repository: new YamlApiKeysRepository(config, new SecurityFileParser(), clock),
        trail: new YamlAuditTrail(config),
        usage: new YamlUsageStore(config),
        credits: new YamlCreditLedger(config, clock),
        clock,
        addTenant: (tenantId) => mkdir(join(root, tenantId)).then(() => undefined),
        close: () => rm(root, { recursive: true, force: true }),
      };
    },
  ],
  [
    'postgres',
    async () => {
      const database = await TestDatabase.create();
      const clock = new ManualClock();
      const db = new PostgresDatabase({
        backend: 'postgres',
        databaseUrl: database.url,
        authCacheMs: 0,
      });
      await db.onModuleInit();
      const repository = new PostgresApiKeysRepository(db, clock);
      return {
        repository,
        trail: new PostgresAuditTrail(db),
        usage: new PostgresUsageStore(db, clock),
        credits: new PostgresCreditLedger(db, clock),
        clock,
        addTenant: (tenantId) => repository.createTenant(tenantId),
        close: async () => {
          await db.onApplicationShutdown();
          await database.drop();
        },
      };
    },
  ],
  [
    'memory',
    () => {
      const clock = new ManualClock();
      const storage = new MemoryStorage(clock);
      return Promise.resolve({
        repository: new MemoryApiKeysRepository(storage),
        trail: new MemoryAuditTrail(storage),
        usage: new MemoryUsageStore(storage),
        credits: new MemoryCreditLedger(storage),
        clock,
        addTenant: (tenantId) => Promise.resolve(storage.addTenant(tenantId)),
        close: () => Promise.resolve(),
      });
    },
  ],
];

const event = (action: AuditEvent['action'], name: string): AuditEvent => ({
  requestId: `req-${name}`,
  actor: 'cli:operator',
  action,
  key: name,
  changes: {},
});
/** A decision that stores `k` (recording `action`), whatever stood before. */
const store = (k: ApiKey, action: AuditEvent['action'] = 'create') =>
  [k.name, () => ({ key: k, event: event(action, k.name), result: k })] as const;

jest.setTimeout(30_000);

describe.each(BACKENDS)('the storage ports, against the %s backend', (_name, open) => {
  let backend: Backend;

  beforeEach(async () => {
    backend = await open();
    await backend.addTenant('acme');
  });

  afterEach(async () => {
    await backend.close();
  });

  it('says a tenant that does not exist is not found, on every method', async () => {
    const { repository, trail } = backend;
    await expect(repository.list('ghost')).rejects.toBeInstanceOf(TenantNotFoundError);
    await expect(repository.findByHash('ghost', hashOf(1))).rejects.toBeInstanceOf(
      TenantNotFoundError,
    );
    await expect(repository.change('ghost', ...store(keyRecord('a', 1)))).rejects.toBeInstanceOf(
      TenantNotFoundError,
    );
    await expect(trail.page('ghost', 10)).rejects.toBeInstanceOf(TenantNotFoundError);
  });

  it('stores what a change decides, finds it by name and by hash, in order', async () => {
    const { repository } = backend;
    await repository.change('acme', ...store(keyRecord('a', 1)));
    await repository.change('acme', ...store(keyRecord('b', 2)));
    expect((await repository.list('acme')).map((k) => k.name)).toEqual(['a', 'b']);
    expect(await repository.findByName('acme', 'b')).toEqual(keyRecord('b', 2));
    expect(await repository.findByHash('acme', hashOf(1))).toEqual(keyRecord('a', 1));
    expect(await repository.findByHash('acme', hashOf(9))).toBeUndefined();
  });

  it('hands each decision the key as it stands, and deletes on null', async () => {
    const { repository } = backend;
    await repository.change('acme', ...store(keyRecord('a', 1)));
    const seen = await repository.change('acme', 'a', (current) => ({
      key: null,
      event: event('delete', 'a'),
      result: current,
    }));
    expect(seen).toEqual(keyRecord('a', 1));
    expect(await repository.list('acme')).toEqual([]);
  });

  it('stores nothing of a decision that throws or is a promise', async () => {
    const { repository, trail } = backend;
    await repository.change('acme', ...store(keyRecord('a', 1)));
    await expect(
      repository.change('acme', 'a', () => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    await expect(
      repository.change('acme', 'a', () => Promise.resolve({ key: null, result: 1 }) as never),
    ).rejects.toBeInstanceOf(TypeError);
    expect(await repository.list('acme')).toEqual([keyRecord('a', 1)]);
    expect(await trail.page('acme', 10)).toHaveLength(1);
  });

  it('gives one concurrent create of a name the win, and stores every distinct name', async () => {
    const { repository } = backend;
    const createOnce = (k: ApiKey) =>
      repository.change('acme', k.name, (current) => {
        if (current) throw new Error('taken');
        return { key: k, event: event('create', k.name), result: k.hash };
      });
    const results = await Promise.allSettled([
      ...Array.from({ length: 10 }, (_, i) => createOnce(keyRecord('same', i + 1))),
      ...Array.from({ length: 20 }, (_, i) => createOnce(keyRecord(`k${i}`, 100 + i))),
    ]);
    expect(results.slice(0, 10).filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.slice(10).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(await repository.list('acme')).toHaveLength(21);
  });

  it('chains one audit line per stored change, served newest first, and verifies intact', async () => {
    const { repository, trail } = backend;
    await repository.change('acme', ...store(keyRecord('a', 1)));
    await repository.change('acme', ...store(keyRecord('a', 1, { enabled: false }), 'update'));
    await repository.change('acme', 'a', () => ({
      key: null,
      event: event('delete', 'a'),
      result: 0,
    }));
    const page = await trail.page('acme', 2);
    expect(page.map((e) => [e.seq, e.action])).toEqual([
      [3, 'delete'],
      [2, 'update'],
    ]);
    expect((await trail.page('acme', 10, 2)).map((e) => e.seq)).toEqual([1]);
    expect(await trail.verify('acme')).toMatchObject({ intact: true, entries: 3 });
  });

  it('finds a rotated key by its previous hash, and drops that hash at the first write after its grace', async () => {
    const { repository, clock } = backend;
    const until = new Date(clock.now() + 1000).toISOString();
    await repository.change(
      'acme',
      ...store(keyRecord('a', 2, { previousHash: hashOf(1), previousHashExpiresAt: until })),
    );
    expect((await repository.findByHash('acme', hashOf(1)))?.name).toBe('a');
    clock.advance(1000);
    await repository.change('acme', ...store(keyRecord('b', 3)));
    expect((await repository.findByName('acme', 'a'))?.previousHash).toBeUndefined();
    expect(await repository.findByHash('acme', hashOf(1))).toBeUndefined();
  });

  it('drops an ended grace from the key a write changes, even when the change keeps it', async () => {
    const { repository, clock } = backend;
    const until = new Date(clock.now() + 1000).toISOString();
    const rotated = keyRecord('a', 2, { previousHash: hashOf(1), previousHashExpiresAt: until });
    await repository.change('acme', ...store(rotated));
    clock.advance(1000);
    await repository.change('acme', ...store({ ...rotated, enabled: false }));
    const stored = await repository.findByName('acme', 'a');
    expect([stored?.enabled, stored?.previousHash]).toEqual([false, undefined]);
    expect(await repository.findByHash('acme', hashOf(1))).toBeUndefined();
  });

  it('replaces everything at once, with the given events, and only if unchanged when asked', async () => {
    const { repository, trail } = backend;
    await repository.change('acme', ...store(keyRecord('a', 1)));
    const exported = await repository.exportText('acme');
    expect(parseSecurityFile(exported).entries.map((e) => e.key)).toEqual([keyRecord('a', 1)]);
    const text = `other: kept\napiKeys:\n  - name: b\n    hash: "${hashOf(2)}"\n`;
    await expect(
      repository.replaceAll('acme', { text, document: parseSecurityFile(text) }, () => [], 'stale'),
    ).rejects.toBeInstanceOf(TenantChangedError);
    await repository.replaceAll(
      'acme',
      { text, document: parseSecurityFile(text) },
      (before, after) => [event('delete', before[0].name), event('create', after[0].name)],
      exported,
    );
    expect((await repository.list('acme')).map((k) => k.name)).toEqual(['b']);
    expect(parseSecurityFile(await repository.exportText('acme')).sections.other).toBe('kept');
    expect((await trail.page('acme', 10)).map((e) => e.action)).toEqual([
      'create',
      'delete',
      'create',
    ]);
  });

  it('keeps the latest use per key, and a key re-created under the name apart', async () => {
    const { usage } = backend;
    await usage.save(
      'acme',
      new Map([['a', { lastUsedAt: '2026-11-30T00:00:02.000Z', createdAt: 'x' }]]),
    );
    await usage.save(
      'acme',
      new Map([['a', { lastUsedAt: '2026-11-30T00:00:01.000Z', createdAt: 'x' }]]),
    );
    expect((await usage.read('acme')).get('a')?.lastUsedAt).toBe('2026-11-30T00:00:02.000Z');
    await usage.save(
      'acme',
      new Map([['a', { lastUsedAt: '2026-11-30T00:00:00.500Z', createdAt: 'y' }]]),
    );
    expect((await usage.read('acme')).get('a')).toEqual({
      lastUsedAt: '2026-11-30T00:00:00.500Z',
      createdAt: 'y',
    });
  });

  it("reads one key's record back right after each save", async () => {
    const { usage } = backend;
    expect((await usage.read('acme', ['a'])).size).toBe(0);
    await usage.save('acme', new Map([['a', { lastUsedAt: '2026-11-30T00:00:01.000Z' }]]));
    await usage.save('acme', new Map([['b', { lastUsedAt: '2026-11-30T00:00:01.000Z' }]]));
    expect((await usage.read('acme', ['a'])).get('a')?.lastUsedAt).toBe('2026-11-30T00:00:01.000Z');
    await usage.save('acme', new Map([['a', { lastUsedAt: '2026-11-30T00:00:03.000Z' }]]));
    expect((await usage.read('acme', ['a'])).get('a')?.lastUsedAt).toBe('2026-11-30T00:00:03.000Z');
  });

  it("finds a key by either of its hashes in every tenant, and the tenant's file as it is now decides", async () => {
    const { repository } = backend;
    await backend.addTenant('beta');
    await repository.change('acme', ...store(keyRecord('a', 1)));
    await repository.change(
      'beta',
      ...store(
        keyRecord('b', 2, {
          previousHash: hashOf(3),
          previousHashExpiresAt: '2099-01-01T00:00:00.000Z',
        }),
      ),
    );
    expect(await repository.findEverywhereByHash(hashOf(1))).toEqual([
      { tenantId: 'acme', key: keyRecord('a', 1) },
    ]);
    expect((await repository.findEverywhereByHash(hashOf(3))).map((f) => f.tenantId)).toEqual([
      'beta',
    ]);
    expect(await repository.findEverywhereByHash(hashOf(9))).toEqual([]);
    await repository.change('acme', 'a', () => ({ key: null, result: null }));
    expect(await repository.findEverywhereByHash(hashOf(1))).toEqual([]);
  });

  describe('the credit ledger', () => {
    const grant = (remaining: number, fields: Partial<ApiKey> = {}) =>
      grantOf(
        keyRecord('paid', 9, {
          createdAt: '2026-11-01T00:00:00.000Z',
          credits: { remaining },
          ...fields,
        }),
      ) as CreditGrant;

    it('spends what a grant holds and no more, and shows what is left', async () => {
      const { credits } = backend;
      const g = grant(3);
      expect(await credits.balances('acme', [g])).toEqual(new Map([['paid', 3]]));
      expect(await credits.spend('acme', g, 2)).toEqual({ granted: true, remaining: 1 });
      expect(await credits.spend('acme', g, 2)).toEqual({ granted: false, remaining: 1 });
      expect(await credits.spend('acme', g, 0)).toEqual({ granted: true, remaining: 1 });
      expect(await credits.spend('acme', g, 1)).toEqual({ granted: true, remaining: 0 });
      expect(await credits.spend('acme', g, 0)).toEqual({ granted: false, remaining: 0 });
      expect(await credits.balances('acme', [g])).toEqual(new Map([['paid', 0]]));
    });

    it('grants exactly the credits to many concurrent spends', async () => {
      const { credits } = backend;
      const g = grant(50);
      const spends = await Promise.all(
        Array.from({ length: 200 }, () => credits.spend('acme', g, 1)),
      );
      expect(spends.filter((spend) => spend.granted)).toHaveLength(50);
      expect(await credits.balances('acme', [g])).toEqual(new Map([['paid', 0]]));
    });

    it('starts a new grant afresh, and a reset grant with its whole remaining again', async () => {
      const { credits } = backend;
      await credits.spend('acme', grant(5), 5);
      expect((await credits.spend('acme', grant(5), 1)).granted).toBe(false);
      expect(await credits.spend('acme', grant(7), 1)).toEqual({ granted: true, remaining: 6 });
      await credits.reset('acme', grant(7));
      expect(await credits.balances('acme', [grant(7)])).toEqual(new Map([['paid', 7]]));
      await credits.forget('acme', 'paid');
      await credits.spend('acme', grant(7), 3);
      expect(await credits.balances('acme', [grant(7)])).toEqual(new Map([['paid', 4]]));
    });

    it('refills at the next interval boundary', async () => {
      const { credits, clock } = backend;
      clock.set('2026-11-30T23:59:00.000Z');
      const daily = grant(1, {
        credits: { remaining: 1, refill: { amount: 10, intervalSeconds: 86400 } },
      });
      await credits.reset('acme', daily);
      expect((await credits.spend('acme', daily, 1)).granted).toBe(true);
      expect((await credits.spend('acme', daily, 1)).granted).toBe(false);
      clock.set('2026-12-01T00:00:00.000Z');
      expect(await credits.spend('acme', daily, 1)).toEqual({ granted: true, remaining: 9 });
    });
  });
});

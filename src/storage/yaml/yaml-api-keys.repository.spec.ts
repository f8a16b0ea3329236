import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import type { ApiKey } from '../api-key.record';
import { TenantFileInvalidError, TenantNotFoundError } from '../storage.errors';
import { YamlApiKeysRepository } from './yaml-api-keys.repository';

const hash = (n: number) => `f${n.toString(16).padStart(63, '0')}`;
const key = (name: string, n: number): ApiKey => ({
  name,
  enabled: true,
  permissions: [],
  hash: hash(n),
});

/** A change that stores `k` as it is. */
const put = (k: ApiKey) => [k.name, () => ({ key: k, result: undefined })] as const;

describe('YamlApiKeysRepository', () => {
  let root: string;
  let repository: YamlApiKeysRepository;
  const file = () => join(root, 'acme', 'security.yml');

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'repo-'));
    await mkdir(join(root, 'acme'));
    repository = new YamlApiKeysRepository({ tenantsDir: root, tenantCacheSize: 100 });
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads a tenant folder without security.yml as no keys, and a missing folder as no tenant', async () => {
    await expect(repository.list('acme')).resolves.toEqual([]);
    await expect(repository.list('ghost')).rejects.toBeInstanceOf(TenantNotFoundError);
    await expect(repository.change('ghost', ...put(key('a', 1)))).rejects.toBeInstanceOf(
      TenantNotFoundError,
    );
    await expect(stat(join(root, 'ghost'))).rejects.toThrow();
  });

  it.each(['..', '.', '.hidden', 'a/b', 'a\0b', '', 'x'.repeat(65)])(
    'treats the invalid tenant id %j as no tenant without touching the disk',
    async (tenantId) => {
      await expect(repository.list(tenantId)).rejects.toBeInstanceOf(TenantNotFoundError);
      await expect(repository.change(tenantId, ...put(key('a', 1)))).rejects.toBeInstanceOf(
        TenantNotFoundError,
      );
      expect(await readdir(root)).toEqual(['acme']);
    },
  );

  it('writes what a change puts, and finds it by name and by hash', async () => {
    await repository.change('acme', ...put(key('a', 1)));
    expect(await repository.findByName('acme', 'a')).toEqual(key('a', 1));
    expect(await repository.findByHash('acme', hash(1))).toEqual(key('a', 1));
    expect(await repository.findByHash('acme', hash(2))).toBeUndefined();
    expect(load(await readFile(file(), 'utf8'))).toEqual({
      apiKeys: [{ name: 'a', enabled: true, permissions: [], hash: hash(1) }],
    });
    expect((await stat(file())).mode & 0o777).toBe(0o600);
    expect(await readdir(join(root, 'acme'))).toEqual(['security.yml']);
  });

  it('keeps nothing of a change that throws, and refuses one that decides asynchronously', async () => {
    await repository.change('acme', ...put(key('a', 1)));
    const before = await readFile(file(), 'utf8');
    await expect(
      repository.change('acme', 'a', () => {
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const promised = Promise.resolve({ key: null, result: undefined });
    await expect(repository.change('acme', 'a', () => promised as never)).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(
      repository.change('acme', 'a', () => ({ key: key('b', 2), result: undefined })),
    ).rejects.toBeInstanceOf(TypeError);
    expect(await repository.list('acme')).toEqual([key('a', 1)]);
    expect(await readFile(file(), 'utf8')).toBe(before);
  });

  it('loses nothing under 100 concurrent creates', async () => {
    const names = Array.from({ length: 100 }, (_, i) => `k${i}`);
    await Promise.all(names.map((name, i) => repository.change('acme', ...put(key(name, i + 1)))));
    const fresh = new YamlApiKeysRepository({ tenantsDir: root, tenantCacheSize: 100 });
    const stored = (await fresh.list('acme')).map((k) => k.name).sort();
    expect(stored).toEqual([...names].sort());
  });

  it('judges each change of a batch on its own', async () => {
    const results = await Promise.allSettled([
      repository.change('acme', ...put(key('a', 1))),
      repository.change('acme', 'a', (current) => {
        if (current) throw new Error('taken');
        return { key: key('a', 2), result: undefined };
      }),
      repository.change('acme', ...put(key('b', 3))),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await repository.list('acme')).map((k) => k.hash)).toEqual([hash(1), hash(3)]);
  });

  it('does not re-parse an unchanged file, and sees a hand edit on the next call', async () => {
    await writeFile(file(), `apiKeys:\n  - name: a\n    hash: ${hash(1)}\n`);
    const first = await repository.list('acme');
    expect((await repository.list('acme'))[0]).toBe(first[0]);
    await writeFile(file(), `apiKeys:\n  - name: b\n    hash: ${hash(2)}\n`);
    expect((await repository.list('acme')).map((k) => k.name)).toEqual(['b']);
    expect(await repository.findByHash('acme', hash(1))).toBeUndefined();
  });

  it('sees a same-size hand edit made within the same second', async () => {
    await writeFile(file(), `apiKeys:\n  - name: a\n    hash: ${hash(1)}\n`);
    await repository.list('acme');
    await writeFile(file(), `apiKeys:\n  - name: b\n    hash: ${hash(1)}\n`);
    expect((await repository.list('acme'))[0].name).toBe('b');
  });

  it('preserves unknown sections and fields, and hand-written entries it did not change', async () => {
    const text = `version: 2\napiKeys:\n  - name: hand\n    hash: ${hash(1)}\n    note: keep me\n  - name: other\n    hash: ${hash(2)}\npolicies: {x: [1, 2]}\n`;
    await writeFile(file(), text);
    await Promise.all([
      repository.change('acme', 'other', (current) => ({
        key: { ...(current as ApiKey), enabled: false },
        result: undefined,
      })),
      repository.change('acme', ...put(key('new', 3))),
    ]);
    expect(load(await readFile(file(), 'utf8'))).toEqual({
      version: 2,
      apiKeys: [
        { name: 'hand', hash: hash(1), note: 'keep me' },
        { name: 'other', hash: hash(2), enabled: false, permissions: [] },
        { name: 'new', enabled: true, permissions: [], hash: hash(3) },
      ],
      policies: { x: [1, 2] },
    });
  });

  it('never overwrites a file it cannot use, and says why', async () => {
    const broken = `apiKeys:\n  - name: a\n    hash: nothex\n`;
    await writeFile(file(), broken);
    const error = await repository.change('acme', ...put(key('b', 2))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TenantFileInvalidError);
    expect((error as TenantFileInvalidError).problem).toMatch(/line 2: apiKeys\[0\]\.hash/);
    await expect(repository.findByHash('acme', hash(2))).rejects.toBeInstanceOf(
      TenantFileInvalidError,
    );
    expect(await readFile(file(), 'utf8')).toBe(broken);
    expect(await readdir(join(root, 'acme'))).toEqual(['security.yml']);
  });

  it('drops the least recently used tenants beyond the cache size and still serves them', async () => {
    const small = new YamlApiKeysRepository({ tenantsDir: root, tenantCacheSize: 2 });
    for (const tenant of ['t1', 't2', 't3']) {
      await mkdir(join(root, tenant));
      await small.change(tenant, ...put(key('a', 1)));
    }
    const t3 = await small.list('t3');
    expect((await small.list('t3'))[0]).toBe(t3[0]);
    const t1 = await small.list('t1'); // evicted earlier: parsed again
    expect(t1[0]).toEqual(key('a', 1));
  });
});

import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lock } from 'proper-lockfile';
import type { ApiKey } from '../api-key.record';
import { TenantBusyError } from '../storage.errors';
import { LOCK_STALE_MS } from './tenant-lock';
import { YamlApiKeysRepository } from './yaml-api-keys.repository';

const key = (name: string, n: number): ApiKey => ({
  name,
  enabled: true,
  permissions: [],
  hash: `e${n.toString(16).padStart(63, '0')}`,
});

/** A change that stores `k` as it is. */
const put = (k: ApiKey) => [k.name, () => ({ key: k, result: undefined })] as const;

describe('writes across processes (the tenant lock)', () => {
  let root: string;
  const file = () => join(root, 'acme', 'security.yml');
  const repository = () => new YamlApiKeysRepository({ tenantsDir: root, tenantCacheSize: 10 });

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'lock-'));
    await mkdir(join(root, 'acme'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('loses nothing when two stores with their own caches write one tenant at once', async () => {
    const [a, b] = [repository(), repository()];
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? a : b).change('acme', ...put(key(`k${i}`, i + 1))),
      ),
    );
    expect((await repository().list('acme')).length).toBe(60);
    expect(await readdir(join(root, 'acme'))).toEqual(['security.yml']);
  });

  it('starts each write from the file as another writer left it', async () => {
    const [a, b] = [repository(), repository()];
    await a.change('acme', ...put(key('from-a', 1)));
    await b.list('acme');
    await a.change('acme', ...put(key('from-a-again', 2)));
    await b.change('acme', ...put(key('from-b', 3)));
    expect((await a.list('acme')).map((k) => k.name)).toEqual(['from-a', 'from-a-again', 'from-b']);
  });

  it('takes over the lock of a holder that died', async () => {
    await mkdir(`${file()}.lock`);
    const past = new Date(Date.now() - 2 * LOCK_STALE_MS);
    await utimes(`${file()}.lock`, past, past);
    await repository().change('acme', ...put(key('after-crash', 1)));
    expect(await readFile(file(), 'utf8')).toContain('after-crash');
    await expect(stat(`${file()}.lock`)).rejects.toThrow();
  });

  it('gives up with TenantBusyError while a live holder keeps the lock', async () => {
    const release = await lock(file(), { realpath: false, stale: LOCK_STALE_MS });
    try {
      const error = await repository()
        .change('acme', ...put(key('blocked', 1)))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TenantBusyError);
      expect((error as TenantBusyError).retryAfterSeconds).toBeGreaterThan(0);
    } finally {
      await release();
    }
    await expect(stat(file())).rejects.toThrow();
  }, 20_000);

  it('removes temp files a crashed writer left, on the next write', async () => {
    const orphan = join(root, 'acme', '.security.yml.4242.0badc0ffee.tmp');
    await writeFile(orphan, 'apiKeys: [half');
    await writeFile(join(root, 'acme', 'notes.txt'), 'mine');
    await repository().change('acme', ...put(key('k', 1)));
    expect((await readdir(join(root, 'acme'))).sort()).toEqual(['notes.txt', 'security.yml']);
  });
});

import type { INestApplication } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { link, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lock } from 'proper-lockfile';
import request from 'supertest';
import type { App } from 'supertest/types';
import { LOCK_STALE_MS } from '../src/storage/yaml/tenant-lock';
import { startApp } from './support/app';
import { runKeys } from './support/cli';
import { makeReadOnly } from './support/read-only-dir';
import { handKey, TenantsFixture } from './support/tenants';

describe('write errors (e2e, a read-only tenant folder)', () => {
  let tenants: TenantsFixture;
  let app: INestApplication<App>;
  let restore: () => Promise<void>;
  const admin = handKey('admin', ['*']);
  const BASE = '/api/acme/admin/apiKeys';

  beforeAll(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
    app = await startApp({ TENANTS_DIR: tenants.root });
    restore = await makeReadOnly(tenants.file('acme', ''));
  });

  afterAll(async () => {
    await restore?.();
    await app.close();
    await tenants.remove();
  });

  it('answers 5xx to a create, returns no token, and leaves the file as it was', async () => {
    const before = await tenants.read('acme');
    const res = await request(app.getHttpServer())
      .post(BASE)
      .set('X-API-Key', admin.token)
      .send({ name: 'x' });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.body).not.toHaveProperty('token');
    expect(res.text).not.toMatch(/tak_/);
    expect(res.body.detail).toMatch(/could not update acme\/security\.yml \(E[A-Z]+\)/);
    expect(await tenants.read('acme')).toBe(before);
  });

  it('answers 5xx to an update and a delete, and keeps serving reads', async () => {
    const put = await request(app.getHttpServer())
      .put(`${BASE}/admin`)
      .set('X-API-Key', admin.token)
      .send({ enabled: false });
    expect(put.status).toBeGreaterThanOrEqual(500);
    const del = await request(app.getHttpServer())
      .delete(`${BASE}/admin`)
      .set('X-API-Key', admin.token);
    expect(del.status).toBeGreaterThanOrEqual(500);
    await request(app.getHttpServer()).get(BASE).set('X-API-Key', admin.token).expect(200);
  });
});

describe('write errors (e2e, a full disk)', () => {
  const run = promisify(execFile);
  const admin = handKey('admin', ['*']);

  /**
   * Tenant `acme` on a 16 kB tmpfs of its own, the service serving it, and `check` run against
   * both; everything unmounted and removed after. Only root can mount one, as CI and these
   * machines do: elsewhere the mount fails, and so does the spec.
   */
  const onFullDisk = async (
    check: (context: {
      tenants: TenantsFixture;
      dir: string;
      http: () => ReturnType<typeof request>;
    }) => Promise<void>,
  ) => {
    const tenants = await TenantsFixture.create();
    await tenants.addTenant('acme');
    const dir = tenants.file('acme', '');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', dir]);
    const app = await startApp({ TENANTS_DIR: tenants.root });
    try {
      await check({ tenants, dir, http: () => request(app.getHttpServer()) });
    } finally {
      await app.close();
      await run('umount', [dir]);
      await tenants.remove();
    }
  };

  it('answers 507 to a create on a full disk, returns no token, and keeps the file', () =>
    onFullDisk(async ({ tenants, dir, http }) => {
      // A section that fills most of the disk: the rewrite (a second copy) cannot fit.
      const filler = `filler: "${'x'.repeat(9000)}"\n`;
      await writeFile(tenants.file('acme'), `${filler}apiKeys:\n${admin.yaml}`);
      const before = await tenants.read('acme');
      const res = await http()
        .post('/api/acme/admin/apiKeys')
        .set('X-API-Key', admin.token)
        .send({ name: 'x' });
      expect(res.status).toBe(507);
      expect(res.body.detail).toMatch(/ENOSPC/);
      expect(res.text).not.toMatch(/tak_/);
      expect(await tenants.read('acme')).toBe(before);
      expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
      // What was answered is what is stored: no key, and no audit line for it.
      const list = await http()
        .get('/api/acme/admin/apiKeys')
        .set('X-API-Key', admin.token)
        .expect(200);
      expect(list.body.map((key: { name: string }) => key.name)).toEqual(['admin']);
      const audit = await readFile(join(dir, 'audit.log'), 'utf8').catch(() => '');
      expect(audit).not.toContain('"key":"x"');
      await expect(runKeys(tenants.root, ['audit', 'verify', 'acme'])).resolves.toBeDefined();
    }));

  it('answers 507 and stores nothing when the new file fits but its audit line does not', () =>
    onFullDisk(async ({ tenants, dir, http }) => {
      await writeFile(tenants.file('acme'), `apiKeys:\n${admin.yaml}`);
      // A second name for the file (a backup, a checkout) keeps its page when it is replaced.
      await link(tenants.file('acme'), join(dir, 'security.yml.orig'));
      // Leave exactly one page free: room for the new security.yml, none for anything else.
      const { bavail, bsize } = await statfs(dir);
      await writeFile(join(dir, 'filler'), Buffer.alloc((bavail - 1) * bsize));
      const before = await tenants.read('acme');
      const res = await http()
        .post('/api/acme/admin/apiKeys')
        .set('X-API-Key', admin.token)
        .send({ name: 'x' });
      expect(res.status).toBe(507);
      expect(res.text).not.toMatch(/tak_/);
      expect(await tenants.read('acme')).toBe(before);
      const audit = await readFile(join(dir, 'audit.log'), 'utf8').catch(() => '');
      expect(audit).not.toContain('"key":"x"');
      await rm(join(dir, 'filler'));
      await http()
        .post('/api/acme/admin/apiKeys')
        .set('X-API-Key', admin.token)
        .send({ name: 'x' })
        .expect(201);
      await expect(runKeys(tenants.root, ['audit', 'verify', 'acme'])).resolves.toMatchObject({
        stdout: expect.stringMatching(/1 entries, chain intact/),
      });
    }));
});

describe('a tenant locked by another process (e2e)', () => {
  it('answers 503 with Retry-After once the wait for the lock runs out, and changes nothing', async () => {
    const tenants = await TenantsFixture.create();
    const admin = handKey('admin', ['*']);
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
    const app = await startApp({ TENANTS_DIR: tenants.root });
    // Another process's writer, alive and refreshing its lock throughout.
    const release = await lock(tenants.file('acme'), { realpath: false, stale: LOCK_STALE_MS });
    try {
      const before = await tenants.read('acme');
      const res = await request(app.getHttpServer())
        .post('/api/acme/admin/apiKeys')
        .set('X-API-Key', admin.token)
        .send({ name: 'x' });
      expect(res.status).toBe(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect(res.text).not.toMatch(/tak_/);
      expect(await tenants.read('acme')).toBe(before);
    } finally {
      await release();
      await app.close();
      await tenants.remove();
    }
  }, 20_000);
});

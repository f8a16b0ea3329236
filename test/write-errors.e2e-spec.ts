import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
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

import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { STORES, type TenantStore } from './support/stores';
import { handKey, sha256 } from './support/tenants';

const KEYS = '/api/acme/admin/apiKeys';
const AUDIT = '/api/acme/admin/auditLog';

describe.each(STORES)('audit trail (e2e, %s)', (_backend, open) => {
  let tenants: TenantStore;
  let app: INestApplication<App>;
  const admin = handKey('admin', ['*']);
  const keysOnly = handKey('keys-only', ['tenant.apiKey:*']);
  const http = () => request(app.getHttpServer());

  beforeEach(async () => {
    tenants = await open();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}${keysOnly.yaml}`);
    app = await startApp({ ...tenants.env });
  });

  afterEach(async () => {
    await app.close();
    await tenants.remove();
  });

  const mutate = async () => {
    const created = await http()
      .post(KEYS)
      .set('X-API-Key', admin.token)
      .set('X-Request-Id', 'req-create')
      .send({ name: 'ci', permissions: ['tenant.apiKey:read'] })
      .expect(201);
    await http()
      .put(`${KEYS}/ci`)
      .set('X-API-Key', keysOnly.token)
      .set('X-Request-Id', 'req-update')
      .send({ enabled: false })
      .expect(200);
    await http()
      .delete(`${KEYS}/ci`)
      .set('X-API-Key', admin.token)
      .set('X-Request-Id', 'req-delete')
      .expect(204);
    return created.body.token as string;
  };

  it('writes one line per create, update and delete: who, what, which fields; never a token or hash', async () => {
    const token = await mutate();
    await http().post(KEYS).set('X-API-Key', admin.token).send({ name: 'admin' }).expect(409);
    const log = (await tenants.auditLines('acme')).join('\n');
    const lines = log.split('\n').map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({
        seq: 1,
        requestId: 'req-create',
        actor: 'api-key:admin',
        action: 'create',
        key: 'ci',
        changes: {
          enabled: { from: null, to: true },
          permissions: { from: null, to: ['tenant.apiKey:read'] },
        },
      }),
      expect.objectContaining({
        seq: 2,
        requestId: 'req-update',
        actor: 'api-key:keys-only',
        action: 'update',
        changes: { enabled: { from: true, to: false } },
      }),
      expect.objectContaining({ seq: 3, requestId: 'req-delete', action: 'delete', key: 'ci' }),
    ]);
    expect(lines[0].time).toMatch(/^\d{4}-\d\d-\d\dT/);
    for (const secret of [token, sha256(token), admin.token, sha256(admin.token)]) {
      expect(log).not.toContain(secret);
    }
  });

  it('serves the log newest first with limit and before, under tenant.audit:read', async () => {
    await mutate();
    const all = await http().get(AUDIT).set('X-API-Key', admin.token).expect(200);
    expect(all.body.map((e: { seq: number }) => e.seq)).toEqual([3, 2, 1]);
    expect(all.body[0]).toMatchObject({ action: 'delete', key: 'ci', actor: 'api-key:admin' });
    const page = await http().get(`${AUDIT}?limit=2`).set('X-API-Key', admin.token).expect(200);
    expect(page.body.map((e: { seq: number }) => e.seq)).toEqual([3, 2]);
    const next = await http()
      .get(`${AUDIT}?limit=2&before=2`)
      .set('X-API-Key', admin.token)
      .expect(200);
    expect(next.body.map((e: { seq: number }) => e.seq)).toEqual([1]);
  });

  it('answers an empty list before any change', async () => {
    await http().get(AUDIT).set('X-API-Key', admin.token).expect(200, []);
  });

  it('answers 401 without credentials and 403 without tenant.audit:read', async () => {
    await http().get(AUDIT).expect(401);
    const res = await http().get(AUDIT).set('X-API-Key', keysOnly.token).expect(403);
    expect(res.body.detail).toContain('tenant.audit:read');
  });

  it.each(['limit=0', 'limit=501', 'limit=abc', 'before=0', 'before=1.5', 'other=1'])(
    'answers 400 naming the parameter for ?%s',
    async (query) => {
      const res = await http().get(`${AUDIT}?${query}`).set('X-API-Key', admin.token).expect(400);
      expect(res.body.errors[0].field).toBe(query.split('=')[0]);
    },
  );

  it('lets `keys audit verify` find a broken chain', async () => {
    await mutate();
    const run = (tenant: string) => tenants.keys(['audit', 'verify', tenant]);
    await expect(run('acme')).resolves.toMatchObject({
      stdout: expect.stringMatching(/3 entries, chain intact/),
    });
    await tenants.dropAuditLine('acme', 2);
    await expect(run('acme')).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/BROKEN at line 2/),
    });
  });
});

import type { INestApplication } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { ServerProcess } from './support/server-process';
import { STORES, type TenantStore } from './support/stores';
import { handKey, TenantsFixture } from './support/tenants';

const ADMIN = '/api/acme/admin/apiKeys';

describe.each(STORES)('/auth/verify, the gateway check (e2e, %s)', (_backend, open) => {
  let tenants: TenantStore;
  let app: INestApplication<App>;
  const admin = handKey('admin', ['*']);
  const orders = handKey('orders', ['orders:*', 'billing:read']);
  const off = handKey('off', ['*'], '    enabled: false\n');
  const expired = handKey('expired', ['*'], '    expiresAt: "2020-01-01T00:00:00Z"\n');
  const later = handKey('later', ['orders:read'], '    expiresAt: "2099-01-01T00:00:00Z"\n');
  const other = handKey('other', ['*']);
  const http = () => request(app.getHttpServer());
  const verify = (token: string, query = 'tenant=acme', path = '/auth/verify') =>
    http().get(`${path}?${query}`).set('X-API-Key', token);
  const acmeFile = () =>
    `apiKeys:\n${admin.yaml}${orders.yaml}${off.yaml}${expired.yaml}${later.yaml}`;

  beforeEach(async () => {
    tenants = await open();
    await tenants.addTenant('acme', acmeFile());
    await tenants.addTenant('beta', `apiKeys:\n${other.yaml}`);
    app = await startApp({ ...tenants.env, AUTH_FAILURE_LIMIT: '100000' });
  });

  afterEach(async () => {
    await app.close();
    await tenants.remove();
  });

  describe('a valid key', () => {
    it('answers 200 with X-Auth-Tenant, X-Auth-Key, X-Auth-Permissions and the JSON body', async () => {
      const res = await verify(orders.token).expect(200);
      expect(res.headers['x-auth-tenant']).toBe('acme');
      expect(res.headers['x-auth-key']).toBe('orders');
      expect(res.headers['x-auth-permissions']).toBe('orders:* billing:read');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        valid: true,
        tenant: 'acme',
        key: 'orders',
        permissions: ['orders:*', 'billing:read'],
      });
    });

    it('includes expiresAt for a key that expires', async () => {
      const res = await verify(later.token).expect(200);
      expect(res.body.expiresAt).toBe('2099-01-01T00:00:00Z'); // as stored, as the admin API shows it
    });

    it.each(['get', 'post', 'put', 'patch', 'delete', 'options'] as const)(
      'answers %s, on /auth/verify and any path below it',
      async (method) => {
        for (const path of ['/auth/verify', '/auth/verify/', '/auth/verify/orders/42/items']) {
          const res = await http()
            [method](`${path}?tenant=acme`)
            .set('X-API-Key', orders.token)
            .expect(200);
          expect(res.headers['x-auth-key']).toBe('orders');
        }
      },
    );

    it('answers HEAD with the headers', async () => {
      const res = await http().head('/auth/verify/x?tenant=acme').set('X-API-Key', orders.token);
      expect(res.status).toBe(200);
      expect(res.headers['x-auth-key']).toBe('orders');
    });

    it('reads no body: whatever the gateway forwards, of any type or size, is ignored', async () => {
      await http()
        .post('/auth/verify/upload?tenant=acme')
        .set('X-API-Key', orders.token)
        .set('Content-Type', 'text/plain')
        .send('x'.repeat(200_000))
        .expect(200);
      await http()
        .put('/auth/verify?tenant=acme')
        .set('X-API-Key', orders.token)
        .set('Content-Type', 'application/json')
        .send('{ not json')
        .expect(200);
    });

    it('takes the tenant from X-Tenant-Id too, from both when they agree, and ignores an empty ?tenant=', async () => {
      await http()
        .get('/auth/verify?tenant=')
        .set('X-Tenant-Id', 'acme')
        .set('X-API-Key', orders.token)
        .expect(200);
      await http()
        .get('/auth/verify')
        .set('X-Tenant-Id', 'acme')
        .set('X-API-Key', orders.token)
        .expect(200);
      await http()
        .get('/auth/verify?tenant=acme')
        .set('X-Tenant-Id', 'acme')
        .set('X-API-Key', orders.token)
        .expect(200);
    });

    it('records lastUsedAt through the usage buffer', async () => {
      const before = await http().get(`${ADMIN}/orders`).set('X-API-Key', admin.token).expect(200);
      expect(before.body.lastUsedAt).toBeUndefined();
      const at = Date.now();
      await verify(orders.token).expect(200);
      const after = await http().get(`${ADMIN}/orders`).set('X-API-Key', admin.token).expect(200);
      expect(Date.parse(after.body.lastUsedAt)).toBeGreaterThanOrEqual(at - 5);
    });
  });

  describe('scopes', () => {
    it.each([
      ['one scope', 'scope=orders:read'],
      ['space-separated', 'scope=orders:read%20billing:read'],
      ['comma-separated', 'scope=orders:read,billing:read'],
      ['repeated', 'scope=orders:read&scope=billing:read,orders:write'],
      ['empty', 'scope='],
    ])('grants %s when every scope is granted', async (_name, query) => {
      await verify(orders.token, `tenant=acme&${query}`).expect(200);
    });

    it('answers 403 INSUFFICIENT_PERMISSIONS naming a scope the key does not grant', async () => {
      const res = await verify(orders.token, 'tenant=acme&scope=orders:read&scope=billing:write')
        .expect(403)
        .expect('Content-Type', /application\/problem\+json/);
      expect(res.body.code).toBe('INSUFFICIENT_PERMISSIONS');
      expect(res.body.detail).toContain('billing:write');
      expect(res.body.detail).not.toContain('orders:read');
      expect(res.headers['x-auth-key']).toBeUndefined();
    });

    it('grants under the admin API rule: *, equal, or a trailing-* prefix, nothing else', async () => {
      await verify(admin.token, 'tenant=acme&scope=anything:at:all').expect(200);
      await verify(orders.token, 'tenant=acme&scope=orders:').expect(200);
      await verify(orders.token, 'tenant=acme&scope=orders').expect(403);
      await verify(orders.token, 'tenant=acme&scope=billing:read:more').expect(403);
    });

    it('answers 400 naming scope for a scope that cannot be one', async () => {
      const res = await verify(orders.token, 'tenant=acme&scope=orders%3Bread').expect(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'scope' })]);
    });
  });

  describe('refusals', () => {
    const refused = (status: number, code: string, res: request.Response) => {
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status, code });
      expect(res.headers['x-auth-key']).toBeUndefined();
      if (status === 401) expect(res.headers['www-authenticate']).toContain('X-API-Key');
    };

    it('answers 401 NOT_FOUND without a key', async () => {
      refused(401, 'NOT_FOUND', await http().get('/auth/verify?tenant=acme'));
      refused(401, 'NOT_FOUND', await verify(''));
    });

    it('answers 401 NOT_FOUND for an unknown key, a key of another tenant, a tenant that does not exist', async () => {
      refused(401, 'NOT_FOUND', await verify('tak_nope'));
      refused(401, 'NOT_FOUND', await verify(other.token));
      refused(401, 'NOT_FOUND', await verify(orders.token, 'tenant=nobody'));
      refused(401, 'NOT_FOUND', await verify(orders.token, 'tenant=..'));
      await verify(other.token, 'tenant=beta').expect(200);
    });

    it('answers 401 DISABLED and 401 EXPIRED, before looking at scopes', async () => {
      refused(401, 'DISABLED', await verify(off.token, 'tenant=acme&scope=x'));
      refused(401, 'EXPIRED', await verify(expired.token, 'tenant=acme&scope=x'));
    });

    it('answers 400 naming the tenant without one, or with two that differ', async () => {
      const none = await http().get('/auth/verify').set('X-API-Key', orders.token).expect(400);
      expect(none.body.errors[0].field).toBe('X-Tenant-Id');
      const both = await http()
        .get('/auth/verify?tenant=beta')
        .set('X-Tenant-Id', 'acme')
        .set('X-API-Key', orders.token)
        .expect(400);
      expect(both.body.errors[0].field).toBe('tenant');
      await verify(orders.token, 'tenant=acme&tenant=beta').expect(400);
    });
  });

  describe('the very next call', () => {
    it('refuses a key deleted or disabled through the admin API', async () => {
      await verify(orders.token).expect(200);
      await http()
        .put(`${ADMIN}/orders`)
        .set('X-API-Key', admin.token)
        .send({ enabled: false })
        .expect(200);
      expect((await verify(orders.token).expect(401)).body.code).toBe('DISABLED');
      await http().delete(`${ADMIN}/orders`).set('X-API-Key', admin.token).expect(204);
      expect((await verify(orders.token).expect(401)).body.code).toBe('NOT_FOUND');
    });

    it('honours hand edits and `keys apply`: a key removed, a key added', async () => {
      await verify(orders.token).expect(200);
      const added = handKey('added', ['orders:read']);
      await tenants.write('acme', `apiKeys:\n${admin.yaml}${added.yaml}`);
      await verify(orders.token).expect(401);
      await verify(added.token, 'tenant=acme&scope=orders:read').expect(200);
    });

    it('honours expiry at its instant, and a rotation grace period to its end', async () => {
      const expiresAt = new Date(Date.now() + 1200).toISOString();
      const made = await http()
        .post(ADMIN)
        .set('X-API-Key', admin.token)
        .send({ name: 'short', permissions: ['orders:read'], expiresAt })
        .expect(201);
      await verify(made.body.token).expect(200);
      const rotated = await http()
        .post(`${ADMIN}/orders/rotate`)
        .set('X-API-Key', admin.token)
        .send({ gracePeriodSeconds: 1 })
        .expect(200);
      await verify(orders.token).expect(200);
      await verify(rotated.body.token).expect(200);
      await sleep(Math.max(1100, Date.parse(expiresAt) - Date.now() + 50));
      expect((await verify(made.body.token).expect(401)).body.code).toBe('EXPIRED');
      expect((await verify(orders.token).expect(401)).body.code).toBe('NOT_FOUND');
      await verify(rotated.body.token).expect(200);
    });
  });
});

describe('/auth/verify and the failed-authentication limit (e2e)', () => {
  let tenants: TenantsFixture;
  let app: INestApplication<App>;
  const good = handKey('good', ['*']);
  const weak = handKey('weak', ['orders:read']);
  const http = () => request(app.getHttpServer());
  const start = async (env: Record<string, string> = {}) => {
    app = await startApp({ TENANTS_DIR: tenants.root, AUTH_FAILURE_LIMIT: '3', ...env });
    return http;
  };
  const guess = (from?: string) => {
    const req = http().get('/auth/verify?tenant=acme').set('X-API-Key', 'tak_guess');
    return from ? req.set('X-Forwarded-For', from) : req;
  };
  const valid = (from?: string) => {
    const req = http().get('/auth/verify?tenant=acme').set('X-API-Key', good.token);
    return from ? req.set('X-Forwarded-For', from) : req;
  };

  beforeEach(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${good.yaml}${weak.yaml}`);
  });

  afterEach(async () => {
    await app.close();
    await tenants.remove();
  });

  it('answers 429 with Retry-After past the limit, to that address, even with a good key', async () => {
    await start();
    for (let i = 0; i < 3; i++) await guess().expect(401);
    const blocked = await guess().expect(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    await valid().expect(429);
    await http().get('/auth/verify?tenant=acme').expect(429);
  });

  it('counts neither a missing key nor a scope the key lacks', async () => {
    await start();
    for (let i = 0; i < 5; i++) {
      await http().get('/auth/verify?tenant=acme').expect(401);
      await http().get('/auth/verify?tenant=acme&scope=x').set('X-API-Key', weak.token).expect(403);
    }
    await valid().expect(200);
  });

  it('behind a trusted proxy, counts the original client: one client blocked never blocks another', async () => {
    await start({ TRUST_PROXY: 'loopback' });
    for (let i = 0; i < 3; i++) await guess('203.0.113.7').expect(401);
    await guess('203.0.113.7').expect(429);
    await valid('203.0.113.7').expect(429);
    await valid('198.51.100.1').expect(200);
    await valid().expect(200);
  });

  it('without TRUST_PROXY, ignores X-Forwarded-For: the gateway address is the client', async () => {
    await start();
    for (let i = 0; i < 3; i++) await guess(`203.0.113.${i}`).expect(401);
    await valid('198.51.100.1').expect(429);
  });
});

describe('/auth/verify logging (e2e, built server)', () => {
  it('logs successful verifications at debug only, failures and admin requests at info', async () => {
    const tenants = await TenantsFixture.create();
    const key = handKey('gw', ['*']);
    await tenants.addTenant('acme', `apiKeys:\n${key.yaml}`);
    const server = await ServerProcess.start({ TENANTS_DIR: tenants.root, LOG_LEVEL: 'info' });
    try {
      const call = (path: string, token: string, id: string) =>
        fetch(`${server.url}${path}`, { headers: { 'X-API-Key': token, 'X-Request-Id': id } });
      expect((await call('/auth/verify?tenant=acme', key.token, 'verify-ok')).status).toBe(200);
      expect((await call('/auth/verify?tenant=acme', 'tak_x', 'verify-bad')).status).toBe(401);
      expect((await call(ADMIN, key.token, 'admin-ok')).status).toBe(200);
      await sleep(200);
      const lines = server.logs.split('\n').filter((line) => line.includes('"req":'));
      const of = (id: string) => lines.filter((line) => line.includes(`"id":"${id}"`));
      expect(of('verify-ok')).toHaveLength(0);
      expect(of('verify-bad')).toHaveLength(1);
      expect(of('admin-ok')).toHaveLength(1);
      expect(server.logs).not.toContain(key.token);
    } finally {
      await server.stop();
      await tenants.remove();
    }
  });
});

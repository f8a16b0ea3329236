import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { STORES, type TenantStore } from './support/stores';
import { handKey, sha256 } from './support/tenants';

const BASE = '/api/acme/admin/apiKeys';
const PROBLEM = /^application\/problem\+json/;
const READ_SCOPE = 'tenant.apiKey:read';

describe.each(STORES)('API keys endpoints (e2e, %s)', (_backend, open) => {
  let tenants: TenantStore;
  let app: INestApplication<App>;
  const admin = handKey('admin', ['*']);
  const reader = handKey('reader', ['tenant.apiKey:read']);
  const writer = handKey('writer', ['tenant.apiKey:write']);
  const narrow = handKey('narrow', ['tenant.apiKey:*']);
  const disabled = handKey('disabled', ['*'], '    enabled: false\n');
  const otherAdmin = handKey('admin', ['*']);

  const seed = () =>
    `apiKeys:\n${admin.yaml}${reader.yaml}${writer.yaml}${narrow.yaml}${disabled.yaml}`;

  beforeEach(async () => {
    tenants = await open();
    await tenants.addTenant('acme', seed());
    await tenants.addTenant('other', `apiKeys:\n${otherAdmin.yaml}`);
    await tenants.addTenant('empty');
    app = await startApp({ ...tenants.env });
  });

  afterEach(async () => {
    await app.close();
    await tenants.remove();
  });

  const http = () => request(app.getHttpServer());

  describe('GET /api/{tenantId}/admin/apiKeys', () => {
    it('lists the keys without hashes', async () => {
      const res = await http().get(BASE).set('X-API-Key', reader.token).expect(200);
      expect(res.body.map((k: { name: string }) => k.name)).toEqual([
        'admin',
        'reader',
        'writer',
        'narrow',
        'disabled',
      ]);
      expect(res.body[0]).toEqual({ name: 'admin', enabled: true, permissions: ['*'] });
      expect(JSON.stringify(res.body)).not.toContain(sha256(admin.token));
    });

    it('answers 401 with WWW-Authenticate and a problem body without credentials', async () => {
      const res = await http().get(BASE).expect(401);
      expect(res.headers['www-authenticate']).toMatch(/ApiKey/);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized' });
      expect(res.body.detail).toEqual(expect.any(String));
    });

    it('answers 401 for an unknown key', async () => {
      await http().get(BASE).set('X-API-Key', 'tak_nope').expect(401);
    });

    it('answers 401 for a disabled key', async () => {
      await http().get(BASE).set('X-API-Key', disabled.token).expect(401);
    });

    it('answers 401 for a key of another tenant', async () => {
      const res = await http().get(BASE).set('X-API-Key', otherAdmin.token).expect(401);
      expect(res.headers['www-authenticate']).toBeDefined();
    });

    it('answers 401 for a key presented to a tenant that does not exist', async () => {
      await http().get('/api/ghost/admin/apiKeys').set('X-API-Key', admin.token).expect(401);
    });

    it('never reads credentials from the query string', async () => {
      await http().get(`${BASE}?api_key=${admin.token}&X-API-Key=${admin.token}`).expect(401);
    });

    it('answers 403 naming the scope when the key lacks tenant.apiKey:read', async () => {
      const res = await http().get(BASE).set('X-API-Key', writer.token).expect(403);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.detail).toContain('tenant.apiKey:read');
    });

    it('accepts a trailing-wildcard permission', async () => {
      await http().get(BASE).set('X-API-Key', narrow.token).expect(200);
    });
  });

  describe('POST /api/{tenantId}/admin/apiKeys', () => {
    it('creates a key: 201, Location, no-store, the token once, its hash in the file', async () => {
      const res = await http()
        .post(BASE)
        .set('X-API-Key', admin.token)
        .send({ name: 'ci-deploy', permissions: ['tenant.apiKey:read', 'tenant.apiKey:read'] })
        .expect(201);
      expect(res.headers.location).toBe('/api/acme/admin/apiKeys/ci-deploy');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toMatchObject({
        name: 'ci-deploy',
        enabled: true,
        permissions: ['tenant.apiKey:read'],
      });
      expect(res.body.token).toMatch(/^tak_[0-9A-Za-z]{49}$/);
      expect(res.body.createdAt).toBe(res.body.updatedAt);
      expect(res.body).not.toHaveProperty('hash');

      const file = await tenants.read('acme');
      expect(file).toContain(sha256(res.body.token));
      expect(file).not.toContain(res.body.token);

      await http().get(BASE).set('X-API-Key', res.body.token).expect(200);
      const again = await http().get(`${BASE}/ci-deploy`).set('X-API-Key', admin.token).expect(200);
      expect(again.body).not.toHaveProperty('token');
    });

    it('creates a disabled key whose token does not work', async () => {
      const res = await http()
        .post(BASE)
        .set('X-API-Key', admin.token)
        .send({ name: 'off', enabled: false, permissions: ['*'] })
        .expect(201);
      await http().get(BASE).set('X-API-Key', res.body.token).expect(401);
    });

    it('answers 409 when the name is taken', async () => {
      const res = await http().post(BASE).set('X-API-Key', admin.token).send({ name: 'reader' });
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    });

    it('judges concurrent creates on their own: one 201 per name, 409 for the rest', async () => {
      const attempts = [
        ...Array.from({ length: 10 }, () => 'same'),
        ...Array.from({ length: 10 }, (_, i) => `distinct-${i}`),
      ];
      const results = await Promise.all(
        attempts.map((name) => http().post(BASE).set('X-API-Key', admin.token).send({ name })),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(11);
      expect(statuses.filter((s) => s === 409)).toHaveLength(9);
      const list = await http().get(BASE).set('X-API-Key', admin.token).expect(200);
      expect(list.body.filter((k: { name: string }) => k.name === 'same')).toHaveLength(1);
      expect(list.body).toHaveLength(5 + 11);
    });

    it('treats names as case-sensitive', async () => {
      await http().post(BASE).set('X-API-Key', admin.token).send({ name: 'Reader' }).expect(201);
    });

    it.each([
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'has space' }, 'name'],
      [{ name: 'a'.repeat(129) }, 'name'],
      [{ name: 12 }, 'name'],
      [{ name: 'ok', enabled: 'yes' }, 'enabled'],
      [{ name: 'ok', enabled: null }, 'enabled'],
      [{ name: 'ok', permissions: 'tenant.apiKey:read' }, 'permissions'],
      [{ name: 'ok', permissions: [1] }, 'permissions'],
      [{ name: 'ok', permissions: ['has space'] }, 'permissions'],
      [{ name: 'ok', permissions: [''] }, 'permissions'],
      [{ name: 'ok', permissions: Array.from({ length: 65 }, (_, i) => `p${i}`) }, 'permissions'],
      [{ name: 'ok', hash: sha256('x') }, 'hash'],
      [{ name: 'ok', token: 'tak_mine' }, 'token'],
    ])('answers 400 naming the field for %j', async (body, field) => {
      const before = await tenants.read('acme');
      const res = await http().post(BASE).set('X-API-Key', admin.token).send(body).expect(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(res.body.detail).toContain(field);
      expect(await tenants.read('acme')).toBe(before);
    });

    it('accepts a name of 128 characters and 64 permissions', async () => {
      await http()
        .post(BASE)
        .set('X-API-Key', admin.token)
        .send({ name: 'a'.repeat(128), permissions: Array.from({ length: 64 }, (_, i) => `p${i}`) })
        .expect(201);
    });

    it('answers 401 before looking at the body', async () => {
      await http().post(BASE).send({ name: 'bad name', extra: true }).expect(401);
      await http().post(BASE).set('Content-Type', 'application/json').send('{"name": ').expect(401);
    });

    it('answers 403 when the key lacks tenant.apiKey:write', async () => {
      await http().post(BASE).set('X-API-Key', reader.token).send({ name: 'x' }).expect(403);
    });

    it('answers 403 when the new key would hold more than the caller (grant rule)', async () => {
      const res = await http()
        .post(BASE)
        .set('X-API-Key', writer.token)
        .send({ name: 'escalate', permissions: ['tenant.apiKey:read'] })
        .expect(403);
      expect(res.body.detail).toContain('tenant.apiKey:read');
      await http()
        .post(BASE)
        .set('X-API-Key', narrow.token)
        .send({ name: 'star', permissions: ['*'] })
        .expect(403);
      expect(await tenants.read('acme')).not.toContain('escalate');
    });

    it('lets a caller grant what its wildcard covers', async () => {
      await http()
        .post(BASE)
        .set('X-API-Key', narrow.token)
        .send({ name: 'sub', permissions: ['tenant.apiKey:read', 'tenant.apiKey:*'] })
        .expect(201);
      await http()
        .post(BASE)
        .set('X-API-Key', writer.token)
        .send({ name: 'same', permissions: ['tenant.apiKey:write'] })
        .expect(201);
    });
  });

  describe('ETag and If-Match', () => {
    it('tags GET, create and update with a strong ETag that changes with the key', async () => {
      const got = await http().get(`${BASE}/reader`).set('X-API-Key', admin.token).expect(200);
      expect(got.headers.etag).toMatch(/^"[^"]+"$/);
      const again = await http().get(`${BASE}/reader`).set('X-API-Key', admin.token).expect(200);
      expect(again.headers.etag).toBe(got.headers.etag);
      const created = await http()
        .post(BASE)
        .set('X-API-Key', admin.token)
        .send({ name: 'tagged' })
        .expect(201);
      expect(created.headers.etag).toMatch(/^"[^"]+"$/);
      const updated = await http()
        .put(`${BASE}/reader`)
        .set('X-API-Key', admin.token)
        .set('If-Match', got.headers.etag)
        .send({ enabled: true, permissions: [READ_SCOPE, 'extra'] })
        .expect(200);
      expect(updated.headers.etag).not.toBe(got.headers.etag);
      const fresh = await http().get(`${BASE}/reader`).set('X-API-Key', admin.token).expect(200);
      expect(fresh.headers.etag).toBe(updated.headers.etag);
    });

    it('answers 412 to PUT and DELETE with a stale If-Match, and leaves the key', async () => {
      const stale = (await http().get(`${BASE}/reader`).set('X-API-Key', admin.token)).headers.etag;
      await http()
        .put(`${BASE}/reader`)
        .set('X-API-Key', admin.token)
        .send({ enabled: true })
        .expect(200);
      const before = await tenants.read('acme');
      const put = await http()
        .put(`${BASE}/reader`)
        .set('X-API-Key', admin.token)
        .set('If-Match', stale)
        .send({ enabled: false })
        .expect(412);
      expect(put.headers['content-type']).toMatch(PROBLEM);
      await http()
        .delete(`${BASE}/reader`)
        .set('X-API-Key', admin.token)
        .set('If-Match', stale)
        .expect(412);
      await http()
        .delete(`${BASE}/reader`)
        .set('X-API-Key', admin.token)
        .set('If-Match', `W/${stale}`)
        .expect(412);
      expect(await tenants.read('acme')).toBe(before);
    });

    it('answers 404 with If-Match when the key is gone, and accepts * and a matching tag', async () => {
      await http()
        .delete(`${BASE}/nope`)
        .set('X-API-Key', admin.token)
        .set('If-Match', '*')
        .expect(404);
      const tag = (await http().get(`${BASE}/writer`).set('X-API-Key', admin.token)).headers.etag;
      await http()
        .put(`${BASE}/narrow`)
        .set('X-API-Key', admin.token)
        .set('If-Match', '*')
        .send({ enabled: true })
        .expect(200);
      await http()
        .delete(`${BASE}/writer`)
        .set('X-API-Key', admin.token)
        .set('If-Match', `"x", ${tag}`)
        .expect(204);
    });
  });

  describe('scannable tokens', () => {
    it('refuses a token whose checksum fails before any lookup, even if its hash is stored', async () => {
      const created = await http()
        .post(BASE)
        .set('X-API-Key', admin.token)
        .send({ name: 'scan', permissions: ['*'] })
        .expect(201);
      const token: string = created.body.token;
      const flipped = token.slice(0, 10) + (token[10] === 'a' ? 'b' : 'a') + token.slice(11);
      // Store the corrupted token's hash too, so only the checksum can refuse it.
      const file = await tenants.read('acme');
      await tenants.write(
        'acme',
        `${file}  - name: forged\n    hash: "${sha256(flipped)}"\n    permissions: ["*"]\n`,
      );
      await http().get(BASE).set('X-API-Key', flipped).expect(401);
      await http().get(BASE).set('X-API-Key', token).expect(200);
    });

    it('keeps tokens of the earlier shape and hand-made ones working', async () => {
      const earlier = `tak_${'x'.repeat(40)}-_Q`;
      const file = await tenants.read('acme');
      await tenants.write(
        'acme',
        `${file}  - name: earlier\n    hash: "${sha256(earlier)}"\n    permissions: ["*"]\n`,
      );
      await http().get(BASE).set('X-API-Key', earlier).expect(200);
      await http().get(BASE).set('X-API-Key', admin.token).expect(200);
    });
  });

  describe('GET /api/{tenantId}/admin/apiKeys/{keyName}', () => {
    it('returns the key', async () => {
      const res = await http().get(`${BASE}/reader`).set('X-API-Key', reader.token).expect(200);
      expect(res.body).toEqual({
        // The key just authenticated this very request.
        lastUsedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        name: 'reader',
        enabled: true,
        permissions: ['tenant.apiKey:read'],
      });
    });

    it('answers 404 for a missing key, as a problem', async () => {
      const res = await http().get(`${BASE}/nope`).set('X-API-Key', reader.token).expect(404);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.detail).toContain('nope');
    });

    it('answers 404 for a name that cannot exist', async () => {
      await http()
        .get(`${BASE}/${'a'.repeat(129)}`)
        .set('X-API-Key', reader.token)
        .expect(404);
      await http().get(`${BASE}/a%2Fb`).set('X-API-Key', reader.token).expect(404);
    });

    it('answers 401 and 403', async () => {
      await http().get(`${BASE}/reader`).expect(401);
      await http().get(`${BASE}/reader`).set('X-API-Key', writer.token).expect(403);
    });

    it('treats __proto__ and constructor as ordinary names', async () => {
      for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
        await http().get(`${BASE}/${name}`).set('X-API-Key', admin.token).expect(404);
        await http().post(BASE).set('X-API-Key', admin.token).send({ name }).expect(201);
        const res = await http().get(`${BASE}/${name}`).set('X-API-Key', admin.token).expect(200);
        expect(res.body.name).toBe(name);
      }
      const list = await http().get(BASE).set('X-API-Key', admin.token).expect(200);
      expect(list.body).toHaveLength(9);
    });
  });

  describe('PUT /api/{tenantId}/admin/apiKeys/{keyName}', () => {
    it('replaces enabled and permissions and keeps name and hash', async () => {
      const before = await tenants.read('acme');
      const res = await http()
        .put(`${BASE}/reader`)
        .set('X-API-Key', admin.token)
        .send({ enabled: true, permissions: ['tenant.apiKey:write', 'tenant.apiKey:write'] })
        .expect(200);
      expect(res.body).toMatchObject({
        name: 'reader',
        enabled: true,
        permissions: ['tenant.apiKey:write'],
      });
      expect(res.body.updatedAt).toEqual(expect.any(String));
      expect(res.body).not.toHaveProperty('hash');
      expect(before).toContain(sha256(reader.token));
      expect(await tenants.read('acme')).toContain(sha256(reader.token));
      await http()
        .post(BASE)
        .set('X-API-Key', reader.token)
        .send({ name: 'by-reader' })
        .expect(201);
    });

    it('keeps permissions that are left out', async () => {
      const res = await http()
        .put(`${BASE}/reader`)
        .set('X-API-Key', admin.token)
        .send({ enabled: false })
        .expect(200);
      expect(res.body).toMatchObject({ enabled: false, permissions: ['tenant.apiKey:read'] });
      await http().get(BASE).set('X-API-Key', reader.token).expect(401);
    });

    it.each([
      [{}, 'enabled'],
      [{ enabled: 'true' }, 'enabled'],
      [{ enabled: null }, 'enabled'],
      [{ enabled: true, permissions: null }, 'permissions'],
      [{ enabled: true, permissions: ['a b'] }, 'permissions'],
      [{ enabled: true, name: 'renamed' }, 'name'],
      [{ enabled: true, hash: sha256('x') }, 'hash'],
    ])('answers 400 naming the field for %j', async (body, field) => {
      const before = await tenants.read('acme');
      const res = await http()
        .put(`${BASE}/reader`)
        .set('X-API-Key', admin.token)
        .send(body)
        .expect(400);
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(await tenants.read('acme')).toBe(before);
    });

    it('answers 401, 403 and 404', async () => {
      await http().put(`${BASE}/reader`).send({ enabled: true }).expect(401);
      await http()
        .put(`${BASE}/reader`)
        .set('X-API-Key', reader.token)
        .send({ enabled: true })
        .expect(403);
      await http()
        .put(`${BASE}/nope`)
        .set('X-API-Key', admin.token)
        .send({ enabled: true })
        .expect(404);
    });

    it('answers 403 when the kept or given permissions exceed the caller', async () => {
      await http()
        .put(`${BASE}/admin`)
        .set('X-API-Key', writer.token)
        .send({ enabled: false })
        .expect(403);
      await http()
        .put(`${BASE}/writer`)
        .set('X-API-Key', writer.token)
        .send({ enabled: true, permissions: ['*'] })
        .expect(403);
      await http().get(BASE).set('X-API-Key', admin.token).expect(200);
    });

    it('answers 403 when a write-only key strips the permissions of a * key, and changes nothing', async () => {
      const before = await tenants.read('acme');
      const res = await http()
        .put(`${BASE}/admin`)
        .set('X-API-Key', writer.token)
        .send({ enabled: true, permissions: [] })
        .expect(403);
      expect(res.body.detail).toContain('not covered: *');
      expect(await tenants.read('acme')).toBe(before);
      await http().get(BASE).set('X-API-Key', admin.token).expect(200);
    });
  });

  describe('DELETE /api/{tenantId}/admin/apiKeys/{keyName}', () => {
    it('answers 204 with no body, and the key stops working at once', async () => {
      const res = await http().delete(`${BASE}/reader`).set('X-API-Key', admin.token).expect(204);
      expect(res.text).toBe('');
      expect(res.headers['content-type']).toBeUndefined();
      expect(await tenants.read('acme')).not.toContain(sha256(reader.token));
      await http().get(BASE).set('X-API-Key', reader.token).expect(401);
      await http().get(`${BASE}/reader`).set('X-API-Key', admin.token).expect(404);
    });

    it('answers 401, 403 and 404', async () => {
      await http().delete(`${BASE}/reader`).expect(401);
      await http().delete(`${BASE}/reader`).set('X-API-Key', reader.token).expect(403);
      await http().delete(`${BASE}/nope`).set('X-API-Key', admin.token).expect(404);
    });

    it('answers 403 when a write-only key deletes a * key, and the * key keeps working', async () => {
      const before = await tenants.read('acme');
      await http().delete(`${BASE}/admin`).set('X-API-Key', writer.token).expect(403);
      await http().delete(`${BASE}/admin`).set('X-API-Key', narrow.token).expect(403);
      expect(await tenants.read('acme')).toBe(before);
      await http().get(BASE).set('X-API-Key', admin.token).expect(200);
    });

    it('lets a key delete itself', async () => {
      await http().delete(`${BASE}/writer`).set('X-API-Key', writer.token).expect(204);
      await http().delete(`${BASE}/writer`).set('X-API-Key', writer.token).expect(401);
    });
  });
});

import type { INestApplication } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { ServerProcess } from './support/server-process';
import { STORES, type TenantStore } from './support/stores';
import { handKey, sha256, TenantsFixture } from './support/tenants';

const BASE = '/api/acme/admin/apiKeys';
const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();
/** Waits until the instant has passed (the service compares against its own clock). */
const until = async (instant: string) => {
  const wait = Date.parse(instant) - Date.now() + 50;
  if (wait > 0) await sleep(wait);
};

describe.each(STORES)('key lifecycle over HTTP (e2e, %s)', (_backend, open) => {
  let tenants: TenantStore;
  let app: INestApplication<App>;
  const admin = handKey('admin', ['*']);
  const writer = handKey('writer', ['tenant.apiKey:write', 'tenant.apiKey:read']);
  const http = () => request(app.getHttpServer());
  const as = (token: string) => ({ 'X-API-Key': token });

  beforeEach(async () => {
    tenants = await open();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}${writer.yaml}`);
    app = await startApp({ ...tenants.env, AUTH_FAILURE_LIMIT: '100000' });
  });

  afterEach(async () => {
    await app.close();
    await tenants.remove();
  });

  const create = async (body: object) => {
    const res = await http().post(BASE).set(as(admin.token)).send(body).expect(201);
    return res.body as { token: string; name: string; expiresAt?: string; hint?: string };
  };
  const authenticate = (token: string) => http().get(BASE).set(as(token));

  describe('expiry', () => {
    it('honours expiresAt from that instant on, saying the key expired; other refusals stay generic', async () => {
      const expiresAt = inSeconds(1.5);
      const key = await create({ name: 'short', permissions: ['tenant.apiKey:read'], expiresAt });
      expect(key.expiresAt).toBe(expiresAt);
      await authenticate(key.token).expect(200);
      await until(expiresAt);
      const refused = await authenticate(key.token).expect(401);
      expect(refused.body.detail).toMatch(/expired/);
      const unknown = await authenticate('tak_nope').expect(401);
      expect(unknown.body.detail).not.toMatch(/expired/);
    });

    it('honours an expiresAt written by hand on the next request', async () => {
      const past = handKey('past', ['*'], '    expiresAt: 2020-01-01T00:00:00Z\n');
      const future = handKey('future', ['*'], '    expiresAt: "2099-01-01T00:00:00Z"\n');
      await tenants.write('acme', `apiKeys:\n${admin.yaml}${past.yaml}${future.yaml}`);
      expect((await authenticate(past.token).expect(401)).body.detail).toMatch(/expired/);
      await authenticate(future.token).expect(200);
      const shown = await http().get(`${BASE}/future`).set(as(admin.token)).expect(200);
      expect(shown.body.expiresAt).toBe('2099-01-01T00:00:00Z');
    });

    it.each([
      ['in the past', { expiresAt: '2020-01-01T00:00:00Z' }],
      ['without a time zone', { expiresAt: '2099-01-01T00:00:00' }],
      ['a date only', { expiresAt: '2099-01-01' }],
      ['not a date', { expiresAt: 'tomorrow' }],
      ['a number', { expiresAt: 4102444800 }],
    ])('answers 400 naming expiresAt for an expiry %s', async (_what, body) => {
      const res = await http()
        .post(BASE)
        .set(as(admin.token))
        .send({ name: 'k', ...body })
        .expect(400);
      expect(res.body.errors[0].field).toBe('expiresAt');
    });

    it('keeps the expiry when an update leaves it out, and removes it with null', async () => {
      await create({ name: 'k', expiresAt: '2099-01-01T00:00:00Z' });
      const kept = await http().put(`${BASE}/k`).set(as(admin.token)).send({ enabled: true });
      expect(kept.body.expiresAt).toBe('2099-01-01T00:00:00.000Z');
      const removed = await http()
        .put(`${BASE}/k`)
        .set(as(admin.token))
        .send({ enabled: true, expiresAt: null })
        .expect(200);
      expect(removed.body.expiresAt).toBeUndefined();
      expect(await tenants.read('acme')).not.toContain('expiresAt');
    });
  });

  describe('rotation', () => {
    const rotate = (name: string, body?: object, headers: Record<string, string> = {}) => {
      const req = http().post(`${BASE}/${name}/rotate`).set(as(admin.token)).set(headers);
      return body === undefined ? req : req.send(body);
    };

    it('hands out a new token at once and keeps the old one for the grace period only', async () => {
      const key = await create({ name: 'k', permissions: ['tenant.apiKey:read'] });
      const before = await http().get(`${BASE}/k`).set(as(admin.token));
      const res = await rotate('k', { gracePeriodSeconds: 2 }).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.etag).toBeDefined();
      expect(res.headers.etag).not.toBe(before.headers.etag);
      expect(res.body).toMatchObject({
        name: 'k',
        permissions: ['tenant.apiKey:read'],
        enabled: true,
      });
      expect(res.body.token).toMatch(/^tak_/);
      expect(res.body.hint).toBe(`${res.body.token.slice(0, 8)}...${res.body.token.slice(-4)}`);
      expect(res.body.previousTokenExpiresAt).toBeDefined();
      expect(JSON.stringify(res.body)).not.toMatch(/[0-9a-f]{64}/);
      await authenticate(res.body.token).expect(200);
      await authenticate(key.token).expect(200);
      const file = await tenants.read('acme');
      expect(file).toContain(`previousHash: "${sha256(key.token)}"`);
      expect(file).toContain('previousHashExpiresAt');
      await until(res.body.previousTokenExpiresAt);
      await authenticate(key.token).expect(401);
      await authenticate(res.body.token).expect(200);
      const after = await http().get(`${BASE}/k`).set(as(admin.token)).expect(200);
      expect(after.body.previousTokenExpiresAt).toBeUndefined();
    });

    it('refuses the old token at once without a grace period, the body left out', async () => {
      const key = await create({ name: 'k', permissions: ['tenant.apiKey:read'] });
      const res = await rotate('k').expect(200);
      await authenticate(key.token).expect(401);
      await authenticate(res.body.token).expect(200);
    });

    it('keeps only the token the last rotation replaced', async () => {
      const first = await create({ name: 'k', permissions: ['tenant.apiKey:read'] });
      const second = (await rotate('k', { gracePeriodSeconds: 600 }).expect(200)).body.token;
      const third = (await rotate('k', { gracePeriodSeconds: 600 }).expect(200)).body.token;
      await authenticate(first.token).expect(401);
      await authenticate(second).expect(200);
      await authenticate(third).expect(200);
    });

    it('answers 403 when the key exceeds the caller (a write-only key cannot take over a * key)', async () => {
      const before = await tenants.read('acme');
      await http().post(`${BASE}/admin/rotate`).set(as(writer.token)).send({}).expect(403);
      expect(await tenants.read('acme')).toBe(before);
      await authenticate(admin.token).expect(200);
    });

    it('honours If-Match: 412 when stale, 200 when current, 404 when the key is gone', async () => {
      await create({ name: 'k' });
      const tag = (await http().get(`${BASE}/k`).set(as(admin.token))).headers.etag;
      await rotate('k', {}, { 'If-Match': '"stale"' }).expect(412);
      await rotate('k', {}, { 'If-Match': tag }).expect(200);
      await rotate('k', {}, { 'If-Match': tag }).expect(412);
      await rotate('gone', {}).expect(404);
    });

    it.each([-1, 2_592_001, 1.5, '10', null, true])(
      'answers 400 for gracePeriodSeconds %j',
      async (gracePeriodSeconds) => {
        await create({ name: 'k' });
        const res = await rotate('k', { gracePeriodSeconds }).expect(400);
        expect(res.body.errors[0].field).toBe('gracePeriodSeconds');
      },
    );

    it('accepts the longest grace period, 30 days', async () => {
      await create({ name: 'k' });
      const res = await rotate('k', { gracePeriodSeconds: 2_592_000 }).expect(200);
      expect(Date.parse(res.body.previousTokenExpiresAt) - Date.now()).toBeGreaterThan(
        2_591_000_000,
      );
    });

    it('answers 401 without credentials and 403 without write scope, before the body', async () => {
      await create({ name: 'k' });
      await http().post(`${BASE}/k/rotate`).send({ gracePeriodSeconds: -1 }).expect(401);
      const reader = await create({ name: 'reader', permissions: ['tenant.apiKey:read'] });
      await http().post(`${BASE}/k/rotate`).set(as(reader.token)).send({}).expect(403);
    });

    it('writes a rotate line to the audit trail, without token or hash', async () => {
      const key = await create({ name: 'k' });
      await rotate('k', { gracePeriodSeconds: 60 }).expect(200);
      const lines = await tenants.auditLines('acme');
      const last = JSON.parse(lines.at(-1) as string) as { action: string; key: string };
      expect(last).toMatchObject({ action: 'rotate', key: 'k' });
      expect(lines.at(-1)).not.toContain(sha256(key.token));
    });
  });

  describe('hints', () => {
    it('shows the hint of minted keys, and none for hand-made ones', async () => {
      const key = await create({ name: 'minted' });
      expect(key.hint).toBe(`${key.token.slice(0, 8)}...${key.token.slice(-4)}`);
      const listed = (await http().get(BASE).set(as(admin.token))).body as Array<{
        name: string;
        hint?: string;
      }>;
      expect(listed.find((k) => k.name === 'minted')?.hint).toBe(key.hint);
      expect(listed.find((k) => k.name === 'admin')?.hint).toBeUndefined();
    });
  });
});

describe('last used (e2e, built server)', () => {
  let tenants: TenantsFixture;
  let server: ServerProcess | undefined;
  const admin = handKey('admin', ['*']);
  const user = handKey(
    'user',
    ['tenant.apiKey:read'],
    '    createdAt: "2026-01-01T00:00:00.000Z"\n',
  );

  beforeEach(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}${user.yaml}`);
  });

  afterEach(async () => {
    await server?.stop();
    await tenants.remove();
  });

  const start = () => ServerProcess.start({ TENANTS_DIR: tenants.root, USAGE_FLUSH_SECONDS: '1' });
  const get = (token: string, path = BASE) =>
    fetch(`${server?.url}${path}`, { headers: { 'X-API-Key': token } });

  it('writes uses to last-used.json, never to security.yml, and keeps them across a restart', async () => {
    server = await start();
    const before = await tenants.read('acme');
    for (let i = 0; i < 5; i++) expect((await get(user.token)).status).toBe(200);
    const seen = (await (await get(admin.token, `${BASE}/user`)).json()) as { lastUsedAt?: string };
    expect(seen.lastUsedAt).toBeDefined();
    await sleep(1600);
    expect(await tenants.read('acme')).toBe(before);
    const side = JSON.parse(
      await readFile(tenants.file('acme', 'last-used.json'), 'utf8'),
    ) as Record<string, { lastUsedAt: string }>;
    expect(side.user.lastUsedAt).toBe(seen.lastUsedAt);

    await server.stop();
    server = await start();
    const listed = (await (await get(admin.token)).json()) as Array<{
      name: string;
      lastUsedAt?: string;
    }>;
    expect(listed.find((k) => k.name === 'user')?.lastUsedAt).toBe(seen.lastUsedAt);
    expect(await tenants.read('acme')).toBe(before);
  }, 30_000);

  it('flushes at shutdown, and a key re-created under the same name starts unused', async () => {
    server = await ServerProcess.start({ TENANTS_DIR: tenants.root, USAGE_FLUSH_SECONDS: '3600' });
    expect((await get(user.token)).status).toBe(200);
    await server.stop();
    const side = await readFile(tenants.file('acme', 'last-used.json'), 'utf8');
    expect(side).toContain('"user"');
    server = await start();
    await fetch(`${server.url}${BASE}/user`, {
      method: 'DELETE',
      headers: { 'X-API-Key': admin.token },
    });
    await fetch(`${server.url}${BASE}`, {
      method: 'POST',
      headers: { 'X-API-Key': admin.token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'user' }),
    });
    const recreated = (await (await get(admin.token, `${BASE}/user`)).json()) as {
      lastUsedAt?: string;
    };
    expect(recreated.lastUsedAt).toBeUndefined();
  }, 30_000);
});

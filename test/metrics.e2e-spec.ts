import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { STORES, type TenantStore } from './support/stores';
import { handKey, sha256 } from './support/tenants';

/** The value of one sample of the exposition text, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return 0;
}

describe.each(STORES)('GET /metrics (e2e, %s)', (_backend, open) => {
  let tenants: TenantStore;
  let app: INestApplication<App>;
  const admin = handKey('admin-secret-name', ['*']);
  const weak = handKey('weak-secret-name', ['orders:read']);
  const http = () => request(app.getHttpServer());
  const scrape = async () => {
    const res = await http().get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    return res.text;
  };
  const verify = (token: string, query = '') =>
    http().get(`/auth/verify?tenant=tenant-secret${query}`).set('X-API-Key', token);

  beforeEach(async () => {
    tenants = await open();
    await tenants.addTenant('tenant-secret', `apiKeys:\n${admin.yaml}${weak.yaml}`);
    app = await startApp({ ...tenants.env, AUTH_FAILURE_LIMIT: '3' });
  });

  afterEach(async () => {
    await app.close();
    await tenants.remove();
  });

  it('counts verifications by outcome, failed authentications and 429s', async () => {
    const before = await scrape();
    await verify(weak.token).expect(200);
    await verify(weak.token, '&scope=billing:read').expect(403);
    await verify('tak_wrong').expect(401);
    await http().get('/api/tenant-secret/admin/apiKeys').set('X-API-Key', 'tak_wrong').expect(401);
    await verify('tak_wrong').expect(401);
    await verify(weak.token).expect(429);
    const after = await scrape();
    const moved = (name: string, labels?: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(moved('api_key_verifications_total', { outcome: 'valid' })).toBe(1);
    expect(moved('api_key_verifications_total', { outcome: 'INSUFFICIENT_PERMISSIONS' })).toBe(1);
    expect(moved('api_key_verifications_total', { outcome: 'NOT_FOUND' })).toBe(2);
    expect(moved('api_key_verifications_total', { outcome: 'THROTTLED' })).toBe(1);
    expect(moved('auth_failures_total')).toBe(3);
    expect(moved('auth_throttled_total')).toBe(1);
  });

  it('times requests by route pattern and status class, never by tenant, key, token or hash', async () => {
    for (let i = 0; i < 3; i++) {
      await http()
        .get('/api/tenant-secret/admin/apiKeys/weak-secret-name')
        .set('X-API-Key', admin.token)
        .expect(200);
    }
    await verify(weak.token).expect(200);
    const text = await scrape();
    expect(
      sample(text, 'http_request_duration_seconds_count', {
        route: '/api/:tenantId/admin/apiKeys/:keyName',
        method: 'GET',
        status_class: '2xx',
      }),
    ).toBe(3);
    expect(
      sample(text, 'http_request_duration_seconds_count', {
        route: '/auth/verify',
        status_class: '2xx',
      }),
    ).toBe(1);
    for (const secret of [
      'tenant-secret',
      'admin-secret-name',
      'weak-secret-name',
      admin.token,
      weak.token,
      sha256(weak.token),
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('counts key-store writes and the changes each held', async () => {
    const before = await scrape();
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        http()
          .post('/api/tenant-secret/admin/apiKeys')
          .set('X-API-Key', admin.token)
          .send({ name: `k${i}` })
          .expect(201),
      ),
    );
    const after = await scrape();
    const writes =
      sample(after, 'key_store_writes_total') - sample(before, 'key_store_writes_total');
    const changes =
      sample(after, 'key_store_changes_per_write_sum') -
      sample(before, 'key_store_changes_per_write_sum');
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(8);
    expect(changes).toBe(8);
    expect(
      sample(after, 'key_store_changes_per_write_count') -
        sample(before, 'key_store_changes_per_write_count'),
    ).toBe(writes);
  });
});

describe('the key cache metrics (e2e, yaml)', () => {
  it('counts hits and misses of the tenant cache and reports its entries', async () => {
    const [, open] = STORES[0];
    const tenants = await open();
    const key = handKey('k', ['*']);
    await tenants.addTenant('one', `apiKeys:\n${key.yaml}`);
    await tenants.addTenant('two', `apiKeys:\n${key.yaml}`);
    const app = await startApp({ ...tenants.env });
    try {
      const http = () => request(app.getHttpServer());
      for (const tenant of ['one', 'two', 'one', 'one']) {
        await http().get(`/auth/verify?tenant=${tenant}`).set('X-API-Key', key.token).expect(200);
      }
      const text = (await http().get('/metrics').expect(200)).text;
      expect(sample(text, 'tenant_cache_lookups_total', { result: 'miss' })).toBe(2);
      expect(sample(text, 'tenant_cache_lookups_total', { result: 'hit' })).toBe(2);
      expect(sample(text, 'tenant_cache_entries')).toBe(2);
    } finally {
      await app.close();
      await tenants.remove();
    }
  });
});

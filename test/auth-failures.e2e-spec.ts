import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { handKey, TenantsFixture } from './support/tenants';

const BASE = '/api/acme/admin/apiKeys';

describe('failed-authentication throttling (e2e)', () => {
  let tenants: TenantsFixture;
  const admin = handKey('admin', ['*']);
  const apps: INestApplication<App>[] = [];
  const start = async (env: Record<string, string>) => {
    const app = await startApp({
      TENANTS_DIR: tenants.root,
      AUTH_FAILURE_LIMIT: '3',
      AUTH_FAILURE_WINDOW: '1',
      ...env,
    });
    apps.push(app);
    return () => request(app.getHttpServer());
  };

  beforeEach(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await tenants.remove();
  });

  it('answers 429 with Retry-After after the limit, even to good credentials, and recovers after the window', async () => {
    const http = await start({});
    for (let i = 0; i < 3; i++) await http().get(BASE).set('X-API-Key', `wrong-${i}`).expect(401);
    const limited = await http().get(BASE).set('X-API-Key', admin.token).expect(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.headers['content-type']).toMatch(/problem\+json/);
    await http().get('/health').expect(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await http().get(BASE).set('X-API-Key', admin.token).expect(200);
  });

  it('checks no more than the limit of 200 simultaneous guesses at an unknown tenant', async () => {
    const http = await start({ AUTH_FAILURE_LIMIT: '5', AUTH_FAILURE_WINDOW: '60' });
    const statuses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        http()
          .get('/api/nobody/admin/apiKeys')
          .set('X-API-Key', `guess-${i}`)
          .then((res) => res.status),
      ),
    );
    expect(statuses.filter((status) => status === 401)).toHaveLength(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(195);
  });

  it('never slows callers that authenticate, and does not count requests without credentials', async () => {
    const http = await start({});
    for (let i = 0; i < 20; i++) await http().get(BASE).set('X-API-Key', admin.token).expect(200);
    for (let i = 0; i < 5; i++) await http().get(BASE).expect(401);
    await http().get(BASE).set('X-API-Key', admin.token).expect(200);
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY says so', async () => {
    const http = await start({});
    for (let i = 0; i < 3; i++) {
      await http()
        .get(BASE)
        .set('X-Forwarded-For', `10.0.0.${i}`)
        .set('X-API-Key', 'wrong')
        .expect(401);
    }
    await http()
      .get(BASE)
      .set('X-Forwarded-For', '10.0.0.99')
      .set('X-API-Key', admin.token)
      .expect(429);
  });

  it('counts per forwarded client address behind a trusted proxy', async () => {
    const http = await start({ TRUST_PROXY: 'loopback' });
    for (let i = 0; i < 3; i++) {
      await http()
        .get(BASE)
        .set('X-Forwarded-For', '203.0.113.7')
        .set('X-API-Key', 'wrong')
        .expect(401);
    }
    await http()
      .get(BASE)
      .set('X-Forwarded-For', '203.0.113.7')
      .set('X-API-Key', admin.token)
      .expect(429);
    await http()
      .get(BASE)
      .set('X-Forwarded-For', '198.51.100.1')
      .set('X-API-Key', admin.token)
      .expect(200);
  });
});

import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { TenantsFixture } from './support/tenants';

describe('security headers (e2e)', () => {
  let tenants: TenantsFixture;
  let app: INestApplication<App>;

  beforeAll(async () => {
    tenants = await TenantsFixture.create();
    app = await startApp({ TENANTS_DIR: tenants.root });
  });

  afterAll(async () => {
    await app.close();
    await tenants.remove();
  });

  it.each(['/health', '/api/acme/admin/apiKeys', '/nowhere', '/docs', '/docs-json'])(
    "sends helmet's headers on %s",
    async (path) => {
      const res = await request(app.getHttpServer()).get(path);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=/);
      expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
      expect(res.headers['content-security-policy']).toMatch(/script-src 'self'/);
      expect(res.headers['content-security-policy']).not.toMatch(/upgrade-insecure-requests/);
      expect(res.headers['x-powered-by']).toBeUndefined();
    },
  );

  it('lets the OAuth2 redirect page reach its opener', async () => {
    const docs = await request(app.getHttpServer()).get('/docs');
    expect(docs.headers['cross-origin-opener-policy']).toBe('same-origin-allow-popups');
    const redirect = await request(app.getHttpServer())
      .get('/docs/oauth2-redirect.html')
      .expect(200);
    expect(redirect.headers['cross-origin-opener-policy']).toBeUndefined();
    expect(redirect.text).not.toMatch(/<script>[^<]/); // its script is a file, allowed by script-src 'self'
  });
});

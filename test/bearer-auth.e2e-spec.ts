import type { INestApplication } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { JwksServer } from './support/jwks-server';
import { handKey, TenantsFixture } from './support/tenants';

const BASE = '/api/acme/admin/apiKeys';
const READ = 'tenant.apiKey:read';
const WRITE = 'tenant.apiKey:write';

const ROUTES = [
  ['get', BASE, READ],
  ['post', BASE, WRITE],
  ['get', `${BASE}/reader`, READ],
  ['put', `${BASE}/reader`, WRITE],
  ['delete', `${BASE}/reader`, WRITE],
] as const;

const BODIES: Record<string, object | undefined> = {
  post: { name: 'new-key' },
  put: { enabled: true },
};

describe('bearer JWTs (e2e, real HTTP JWKS server)', () => {
  let idp: JwksServer;
  let tenants: TenantsFixture;
  let app: INestApplication<App>;
  const reader = handKey('reader', [READ]);

  beforeAll(async () => {
    idp = new JwksServer();
    await idp.start();
  });

  afterAll(async () => {
    await idp.stop();
  });

  beforeEach(async () => {
    idp.mode = 'ok';
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${reader.yaml}`);
    await tenants.addTenant('beta', 'apiKeys: []\n');
    app = await startApp({
      TENANTS_DIR: tenants.root,
      AUTH_JWKS_URI: idp.jwksUri,
      AUTH_ISSUER: idp.issuer,
      AUTH_AUDIENCE: idp.audience,
      // These specs send many bad tokens on purpose; the per-address limit has its own spec.
      AUTH_FAILURE_LIMIT: '100000',
    });
  });

  afterEach(async () => {
    await app.close();
    await tenants.remove();
  });

  const http = () => request(app.getHttpServer());
  const call = (method: (typeof ROUTES)[number][0], path: string, token?: string) => {
    let req = http()[method](path);
    if (token !== undefined) req = req.set('Authorization', `Bearer ${token}`);
    const body = BODIES[method];
    return body ? req.send(body) : req;
  };

  it('accepts a valid token', async () => {
    const res = await http().get(BASE).set('Authorization', `Bearer ${idp.token()}`).expect(200);
    expect(res.body.map((k: { name: string }) => k.name)).toEqual(['reader']);
  });

  it.each(ROUTES)(
    '%s %s: 2xx with the scope, 401 without a valid token, 403 without the scope',
    async (method, path, scope) => {
      const other = scope === READ ? WRITE : READ;
      const denied = await call(method, path, idp.token({ scope: other }));
      expect(denied.status).toBe(403);
      expect(denied.headers['www-authenticate']).toBe(
        `Bearer error="insufficient_scope", scope="${scope}"`,
      );
      expect(denied.headers['content-type']).toMatch(/application\/problem\+json/);

      const unauthenticated = await call(method, path, idp.token({}, { key: idp.strangerKey }));
      expect(unauthenticated.status).toBe(401);
      expect(unauthenticated.headers['www-authenticate']).toMatch(
        /^Bearer realm="tenant-api-keys", error="invalid_token"/,
      );

      // Updating keeps the key's read permission, which the grant rule wants the caller to hold.
      const ok = await call(method, path, idp.token({ scope: `${scope} ${READ}` }));
      expect(ok.status).toBeLessThan(300);
    },
  );

  it('reads scopes from scp as an array or a string', async () => {
    await http()
      .get(BASE)
      .set('Authorization', `Bearer ${idp.token({ scope: undefined, scp: [READ] })}`)
      .expect(200);
    await http()
      .get(BASE)
      .set('Authorization', `Bearer ${idp.token({ scope: undefined, scp: `x ${READ}` })}`)
      .expect(200);
    await http()
      .get(BASE)
      .set('Authorization', `Bearer ${idp.token({ scope: 'tenant.*' })}`)
      .expect(200);
  });

  it('reads tenants from a string, an array, or *', async () => {
    const auth = (tenant: unknown) => `Bearer ${idp.token({ tenant })}`;
    await http()
      .get('/api/beta/admin/apiKeys')
      .set('Authorization', auth(['acme', 'beta']))
      .expect(200);
    await http().get('/api/beta/admin/apiKeys').set('Authorization', auth('*')).expect(200);
    await http().get('/api/beta/admin/apiKeys').set('Authorization', auth('acme')).expect(403);
    await http().get('/api/beta/admin/apiKeys').set('Authorization', auth(undefined)).expect(403);
    await http()
      .get('/api/beta/admin/apiKeys')
      .set('Authorization', auth(['*x']))
      .expect(403);
  });

  it('answers 404 for a tenant that does not exist, to a bearer allowed there, and makes no folder', async () => {
    const token = idp.token({ tenant: '*' });
    const res = await http()
      .post('/api/ghost/admin/apiKeys')
      .set('Authorization', `Bearer ${token}`)
      .send({ name: 'x' });
    expect(res.status).toBe(404);
    expect(res.body.detail).toContain('ghost');
    await http()
      .get('/api/ghost/admin/apiKeys')
      .set('Authorization', `Bearer ${token}`)
      .expect(404);
    await http()
      .get('/api/..%2F..%2Fetc/admin/apiKeys')
      .set('Authorization', `Bearer ${token}`)
      .expect(404);
    expect(existsSync(join(tenants.root, 'ghost'))).toBe(false);
  });

  it('applies the grant rule to bearers', async () => {
    const token = idp.token({ scope: `${WRITE} ${READ}` });
    await http()
      .post(BASE)
      .set('Authorization', `Bearer ${token}`)
      .send({ name: 'x', permissions: ['*'] })
      .expect(403);
    const created = await http()
      .post(BASE)
      .set('Authorization', `Bearer ${token}`)
      .send({ name: 'x', permissions: [READ] })
      .expect(201);
    await http().get(BASE).set('X-API-Key', created.body.token).expect(200);
  });

  it('answers 400 to a request carrying both a bearer and an API key', async () => {
    const res = await http()
      .get(BASE)
      .set('Authorization', `Bearer ${idp.token()}`)
      .set('X-API-Key', reader.token)
      .expect(400);
    expect(res.body.detail).toMatch(/one credential/);
  });

  it('announces both schemes when no credentials are sent', async () => {
    const res = await http().get(BASE).expect(401);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="tenant-api-keys", ApiKey header="X-API-Key"',
    );
  });

  it.each([
    ['expired', () => idp.token({}, { expiresIn: -120 }), /expired/],
    ['not yet valid', () => idp.token({}, { notBefore: 120 }), /not valid yet/],
    ['of the wrong issuer', () => idp.token({}, { issuer: 'https://evil.test' }), /issuer/],
    ['for the wrong audience', () => idp.token({}, { audience: 'someone-else' }), /audience/],
    ['signed by another key', () => idp.token({}, { key: idp.strangerKey }), /signature/],
    ['unsigned (alg: none)', () => idp.unsignedToken({ scope: READ }), /./],
    ['HS256 signed with the public key', () => idp.hmacWithPublicKey({ scope: READ }), /./],
    ['with an unknown kid', () => idp.token({}, { keyid: 'nobody' }), /./],
    ['with a tampered payload', () => idp.tampered({ scope: '*', tenant: '*' }), /signature/],
    ['that is not a JWT', () => 'not-a-jwt', /./],
    [
      'without exp',
      () =>
        idp.rawToken({
          sub: 'alice',
          iss: idp.issuer,
          aud: idp.audience,
          scope: READ,
          tenant: 'acme',
        }),
      /no expiry/,
    ],
  ])('refuses a token %s with 401 invalid_token', async (_what, makeToken, why) => {
    const res = await http().get(BASE).set('Authorization', `Bearer ${makeToken()}`).expect(401);
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(res.body.detail).toMatch(why);
    // No configured value (issuer, audience) is ever echoed to the caller.
    for (const told of [res.headers['www-authenticate'], res.body.detail]) {
      expect(told).not.toContain(idp.issuer);
      expect(told).not.toMatch(/expected/);
    }
  });

  it('accepts a token that expired within the clock tolerance', async () => {
    await http()
      .get(BASE)
      .set('Authorization', `Bearer ${idp.token({}, { expiresIn: -5 })}`)
      .expect(200);
  });

  it('refuses other Authorization schemes', async () => {
    await http().get(BASE).set('Authorization', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l').expect(401);
    await http().get(BASE).set('Authorization', `bearer-ish ${idp.token()}`).expect(401);
  });

  it('never reads a bearer token from the query string', async () => {
    await http().get(`${BASE}?access_token=${idp.token()}`).expect(401);
  });

  it('answers 401 while the JWKS answers garbage, and recovers', async () => {
    idp.mode = 'garbage';
    const res = await http().get(BASE).set('Authorization', `Bearer ${idp.token()}`).expect(401);
    expect(res.body.detail).toMatch(/signing key could not be obtained/);
    idp.mode = 'ok';
    await http().get(BASE).set('Authorization', `Bearer ${idp.token()}`).expect(200);
  });

  it('answers 401 within a few seconds while the JWKS hangs', async () => {
    idp.mode = 'hang';
    await http().get(BASE).set('Authorization', `Bearer ${idp.token()}`).timeout(8000).expect(401);
  }, 15_000);

  it('answers 401 while the JWKS is down, and 200 once it is back', async () => {
    await idp.stop();
    try {
      const res = await http()
        .get(BASE)
        .set('Authorization', `Bearer ${idp.token()}`)
        .timeout(8000);
      expect(res.status).toBe(401);
    } finally {
      await idp.start();
    }
    await http().get(BASE).set('Authorization', `Bearer ${idp.token()}`).expect(200);
  });

  it('keeps valid tokens working through a flood of unknown kids', async () => {
    await http().get(BASE).set('Authorization', `Bearer ${idp.token()}`).expect(200);
    const flood = Array.from({ length: 40 }, (_, i) =>
      http()
        .get(BASE)
        .set('Authorization', `Bearer ${idp.token({}, { keyid: `unknown-${i}` })}`),
    );
    for (const res of await Promise.all(flood)) expect(res.status).toBe(401);
    expect(idp.requests).toBeLessThan(40);
    await http().get(BASE).set('Authorization', `Bearer ${idp.token()}`).expect(200);
  });
});

describe('bearer JWTs with a PEM public key and a custom tenant claim (e2e)', () => {
  it('verifies with AUTH_JWT_PUBLIC_KEY and reads AUTH_TENANT_CLAIM', async () => {
    const idp = new JwksServer();
    const tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', 'apiKeys: []\n');
    const app = await startApp({
      TENANTS_DIR: tenants.root,
      AUTH_JWT_PUBLIC_KEY: idp.publicKeyPem.replace(/\n/g, '\\n'),
      AUTH_TENANT_CLAIM: 'org',
    });
    try {
      const http = () => request(app.getHttpServer());
      await http()
        .get(BASE)
        .set('Authorization', `Bearer ${idp.token({ org: 'acme', tenant: undefined })}`)
        .expect(200);
      await http()
        .get(BASE)
        .set('Authorization', `Bearer ${idp.token({ org: 'beta' })}`)
        .expect(403);
      await http()
        .get(BASE)
        .set('Authorization', `Bearer ${idp.hmacWithPublicKey({ org: 'acme', scope: READ })}`)
        .expect(401);
    } finally {
      await app.close();
      await tenants.remove();
    }
  });

  it('refuses every bearer token with 401 when no key source is configured', async () => {
    const idp = new JwksServer();
    const tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', 'apiKeys: []\n');
    const app = await startApp({
      TENANTS_DIR: tenants.root,
      AUTH_JWKS_URI: undefined,
      AUTH_JWT_PUBLIC_KEY: undefined,
    });
    try {
      const res = await request(app.getHttpServer())
        .get(BASE)
        .set('Authorization', `Bearer ${idp.token()}`)
        .expect(401);
      expect(res.body.detail).toMatch(/bearer tokens are not accepted/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    } finally {
      await app.close();
      await tenants.remove();
    }
  });
});

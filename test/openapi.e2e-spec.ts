import type { INestApplication } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import request, { type Response } from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { OpenApiCheck } from './support/openapi-check';
import { handKey, TenantsFixture } from './support/tenants';

const KEYS = '/api/acme/admin/apiKeys';

describe('the OpenAPI document against the service (e2e)', () => {
  let tenants: TenantsFixture;
  let app: INestApplication<App>;
  let document: any;
  let check: OpenApiCheck;
  const admin = handKey('admin', ['*']);
  const reader = handKey('reader', ['tenant.apiKey:read']);
  const http = () => request(app.getHttpServer());

  beforeAll(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}${reader.yaml}`);
    await tenants.addTenant('broken', 'apiKeys: [\n');
    await tenants.addTenant('empty');
    app = await startApp({
      TENANTS_DIR: tenants.root,
      OAUTH2_AUTHORIZATION_URL: 'https://idp.example/realms/t/protocol/openid-connect/auth',
      OAUTH2_TOKEN_URL: 'https://idp.example/realms/t/protocol/openid-connect/token',
      AUTH_FAILURE_LIMIT: '3',
    });
    document = (await http().get('/docs-json').expect(200)).body;
    check = new OpenApiCheck(document);
  });

  afterAll(async () => {
    await app.close();
    await tenants.remove();
  });

  it("passes Redocly's recommended rules with no error, and only the warnings redocly.yaml justifies", async () => {
    const file = join(tenants.root, 'openapi.json');
    await writeFile(file, JSON.stringify(document));
    const redocly = join(process.cwd(), 'node_modules', '.bin', 'redocly');
    const { stdout } = await promisify(execFile)(redocly, [
      'lint',
      file,
      '--config',
      join(process.cwd(), 'redocly.yaml'),
      '--format=json',
    ]).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    const report = JSON.parse(stdout) as {
      totals: { errors: number };
      problems: Array<{ ruleId: string; severity: string; message: string }>;
    };
    expect(report.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const justified = Object.keys(
      (load(readFileSync(join(process.cwd(), 'redocly.yaml'), 'utf8')) as { rules: object }).rules,
    );
    expect(
      report.problems.map((p) => p.ruleId).filter((rule) => !justified.includes(rule)),
    ).toEqual([]);
  }, 60_000);

  it('declares servers, tags, integer types, a public /health and problem+json errors', () => {
    expect(document.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    expect(document.tags.map((t: { name: string }) => t.name).sort()).toEqual([
      'ApiKeys',
      'AuditLog',
      'Health',
      'SecretScanning',
      'Verification',
    ]);
    expect(document.paths['/health'].get.security).toEqual([]);
    const schemas = document.components.schemas;
    expect(schemas.ProblemDto.properties.status.type).toBe('integer');
    expect(schemas.AuditEntryDto.properties.seq.type).toBe('integer');
    const audit = document.paths['/api/{tenantId}/admin/auditLog'].get;
    for (const name of ['limit', 'before']) {
      expect(audit.parameters.find((p: { name: string }) => p.name === name).schema.type).toBe(
        'integer',
      );
    }
    expect(audit.responses['500']).toBeDefined();
    // Swagger UI fills an optional parameter's example into "Try it out": a filter with one
    // would make the plain call filter on a made-up value.
    for (const item of Object.values<any>(document.paths)) {
      for (const operation of Object.values<any>(item)) {
        for (const parameter of operation.parameters ?? []) {
          if (!parameter.required) {
            expect([parameter.name, parameter.example ?? parameter.schema?.example]).toEqual([
              parameter.name,
              undefined,
            ]);
          }
        }
      }
    }
    for (const item of Object.values<any>(document.paths)) {
      for (const operation of Object.values<any>(item)) {
        for (const [status, response] of Object.entries<any>(operation.responses)) {
          if (Number(status) >= 400) {
            expect(Object.keys(response.content)).toEqual(['application/problem+json']);
          }
          expect(response.headers['X-Request-Id']).toBeDefined();
        }
      }
    }
  });

  it('answers every route and status as documented: media type, schema and headers', async () => {
    const seen: Array<[string, string, Response]> = [];
    const call = async (method: string, path: string, build: (r: request.Test) => request.Test) => {
      const res = await build((http() as any)[method.toLowerCase()](path));
      seen.push([method, path, res]);
      return res;
    };
    const as = (token: string) => (r: request.Test) => r.set('X-API-Key', token);

    const created = await call('POST', KEYS, (r) =>
      as(admin.token)(r).send({ name: 'documented', permissions: ['tenant.apiKey:read'] }),
    );
    expect(created.status).toBe(201);
    const etag = created.headers.etag;
    await call('GET', KEYS, as(admin.token));
    await call('GET', `${KEYS}/documented`, as(admin.token));
    await call('PUT', `${KEYS}/documented`, (r) => as(admin.token)(r).send({ enabled: false }));
    await call('PUT', `${KEYS}/documented`, (r) =>
      as(admin.token)(r).set('If-Match', etag).send({ enabled: true }),
    );
    await call('POST', KEYS, (r) => as(admin.token)(r).send({ name: 'documented' }));
    await call('POST', KEYS, (r) => as(admin.token)(r).send({ name: 'bad name!' }));
    await call('POST', KEYS, (r) =>
      as(admin.token)(r)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ name: 'x'.repeat(100_001) })),
    );
    await call('POST', KEYS, (r) => as(admin.token)(r).set('Content-Type', 'text/plain').send('x'));
    await call('POST', KEYS, (r) => as(reader.token)(r).send({ name: 'nope' }));
    await call('GET', `${KEYS}/missing`, as(admin.token));
    const rotated = await call('POST', `${KEYS}/documented/rotate`, (r) =>
      as(admin.token)(r).send({ gracePeriodSeconds: 60 }),
    );
    expect(rotated.status).toBe(200);
    await call('POST', `${KEYS}/documented/rotate`, (r) =>
      as(admin.token)(r).send({ gracePeriodSeconds: -1 }),
    );
    await call('GET', `${KEYS}/documented`, as(admin.token));
    await call('DELETE', `${KEYS}/documented`, (r) => as(admin.token)(r).set('If-Match', etag));
    await call('DELETE', `${KEYS}/documented`, as(admin.token));
    await call('DELETE', `${KEYS}/missing`, as(admin.token));
    await call('GET', '/api/ghost/admin/apiKeys', (r) => r.set('Authorization', 'Bearer x'));
    await call('GET', '/api/broken/admin/apiKeys', as(admin.token));
    await call('GET', '/api/acme/admin/auditLog', as(admin.token));
    await call('GET', '/api/acme/admin/auditLog?limit=0', as(admin.token));
    await call('GET', '/api/acme/admin/auditLog', as(reader.token));
    await call('GET', '/health', (r) => r);
    await call('GET', '/metrics', (r) => r);
    const verified = await call('GET', '/auth/verify?tenant=acme&scope=tenant.apiKey:read', (r) =>
      r.set('X-API-Key', reader.token),
    );
    expect(verified.status).toBe(200);
    await call('GET', '/auth/verify?tenant=acme&scope=other', as(reader.token));
    const policed = await call('POST', KEYS, (r) =>
      as(admin.token)(r).send({
        name: 'policed',
        owner: 'customer-1',
        rateLimit: { limit: 1, periodSeconds: 60 },
        credits: { remaining: 5, refill: { amount: 5, intervalSeconds: 3600 } },
        allowedIps: ['0.0.0.0/0', '::/0'],
        meta: { plan: 'pro' },
      }),
    );
    expect(policed.status).toBe(201);
    const policedVerify = (query: string) =>
      call('GET', `/auth/verify?tenant=acme${query}`, as(policed.body.token as string));
    expect((await policedVerify('&cost=2')).status).toBe(200);
    expect((await policedVerify('')).status).toBe(429);
    await policedVerify('&cost=x');
    const fenced = await call('POST', KEYS, (r) =>
      as(admin.token)(r).send({ name: 'fenced', allowedIps: ['10.0.0.0/8'] }),
    );
    expect(
      (await call('GET', '/auth/verify?tenant=acme', as(fenced.body.token as string))).status,
    ).toBe(403);
    await call('GET', `${KEYS}?owner=customer-1`, as(admin.token));
    await call('POST', '/secret-scanning/github', (r) => r.send([{ token: 'tak_x', type: 't' }]));
    await call('GET', '/auth/verify', as(reader.token));
    await call('GET', '/auth/verify?tenant=acme', (r) => r);
    await call('GET', KEYS, (r) => r);
    for (let i = 0; i < 3; i++) await call('GET', KEYS, as(`wrong-${i}`));
    const limited = await call('GET', KEYS, as(admin.token));
    expect(limited.status).toBe(429);

    const statuses = new Set(seen.map(([, , res]) => res.status));
    expect([...statuses].sort()).toEqual([
      200, 201, 204, 400, 401, 403, 404, 409, 412, 413, 415, 429, 500,
    ]);
    const problems = seen.flatMap(([method, path, res]) => check.problems(method, path, res));
    expect(problems).toEqual([]);
  });
});

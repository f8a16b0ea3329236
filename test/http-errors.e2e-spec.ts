import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { handKey, TenantsFixture } from './support/tenants';

const BASE = '/api/acme/admin/apiKeys';
const PROBLEM = /^application\/problem\+json/;

describe('Request bodies, unknown routes and problem details (e2e)', () => {
  let tenants: TenantsFixture;
  let app: INestApplication<App>;
  let before: string;
  const admin = handKey('admin', ['*']);

  beforeAll(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
    before = await tenants.read('acme');
    app = await startApp({ TENANTS_DIR: tenants.root });
  });

  afterAll(async () => {
    await app.close();
    await tenants.remove();
  });

  afterEach(async () => {
    expect(await tenants.read('acme')).toBe(before);
  });

  const post = () => request(app.getHttpServer()).post(BASE).set('X-API-Key', admin.token);

  it('answers 400 for malformed JSON', async () => {
    const res = await post()
      .set('Content-Type', 'application/json')
      .send('{"name": "x",')
      .expect(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body.detail).toMatch(/not valid JSON/);
  });

  it.each(['[{"name":"x"}]', '"x"', '42', 'null'])(
    'answers 400 for a body that is not an object: %s',
    async (body) => {
      const res = await post().set('Content-Type', 'application/json').send(body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    },
  );

  it.each([1_000, 10_000, 49_000, 100_000])(
    'answers 4xx, never 500, to a body nested %i deep, on every route that takes a body',
    async (depth) => {
      const body = `{"name":"x","enabled":true,"permissions":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      for (const send of [
        post(),
        request(app.getHttpServer()).put(`${BASE}/admin`).set('X-API-Key', admin.token),
      ]) {
        const res = await send.set('Content-Type', 'application/json').send(body);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        if (body.length > 100_000) expect(res.status).toBe(413);
        else {
          expect(res.status).toBe(400);
          expect(res.body.detail).toMatch(/nests deeper than 32 levels/);
        }
      }
    },
  );

  it('answers 413 for a body over 100 kB', async () => {
    const res = await post()
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ name: 'big', permissions: ['x'.repeat(100_001)] }))
      .expect(413);
    expect(res.headers['content-type']).toMatch(PROBLEM);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const res = await post().set('Content-Type', 'text/plain').send('name=x').expect(415);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    await post().type('form').send({ name: 'x' }).expect(415);
  });

  it('answers 400 for an empty body, naming the missing field', async () => {
    const res = await post().expect(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'name' })]);
  });

  it('refuses __proto__ in a body as an unknown field, without pollution', async () => {
    const res = await post()
      .set('Content-Type', 'application/json')
      .send('{"name":"p","__proto__":{"enabled":false,"polluted":true}}')
      .expect(400);
    expect(res.body.detail).toContain('__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const ctor = await post()
      .set('Content-Type', 'application/json')
      .send('{"name":"c","constructor":{"prototype":{"polluted":true}}}')
      .expect(400);
    expect(ctor.body.errors).toEqual([expect.objectContaining({ field: 'constructor' })]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers 404 as a problem for an unknown route', async () => {
    const res = await request(app.getHttpServer()).get('/nowhere').expect(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status: 404, title: 'Not Found' });
  });

  it('answers 404 for an unknown method on a known path', async () => {
    const res = await request(app.getHttpServer())
      .patch(`${BASE}/admin`)
      .set('X-API-Key', admin.token);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
  });

  it('keeps a well-formed X-Request-Id and puts it in the problem', async () => {
    const res = await request(app.getHttpServer())
      .get(BASE)
      .set('X-Request-Id', 'req-123')
      .expect(401);
    expect(res.headers['x-request-id']).toBe('req-123');
    expect(res.body.instance).toBe('req-123');
    const odd = await request(app.getHttpServer())
      .get(BASE)
      .set('X-Request-Id', 'not ok!')
      .expect(401);
    expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers GET /health', async () => {
    await request(app.getHttpServer()).get('/health').expect(200, { status: 'ok' });
  });
});

import type { INestApplication } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { runKeys } from './support/cli';
import { handKey, sha256, TenantsFixture } from './support/tenants';

const BASE = '/api/acme/admin/apiKeys';

describe('security.yml as the source of truth (e2e)', () => {
  let tenants: TenantsFixture;
  let app: INestApplication<App>;
  const admin = handKey('admin', ['*']);
  const http = () => request(app.getHttpServer());
  const keys = (...args: string[]) => runKeys(tenants.root, args);

  beforeEach(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
    app = await startApp({ TENANTS_DIR: tenants.root });
  });

  afterEach(async () => {
    await app.close();
    await tenants.remove();
  });

  it('honours a key removed by hand on the very next request', async () => {
    await http().get(BASE).set('X-API-Key', admin.token).expect(200);
    const other = handKey('other', ['*']);
    await tenants.write('acme', `apiKeys:\n${other.yaml}`);
    await http().get(BASE).set('X-API-Key', admin.token).expect(401);
    await http().get(BASE).set('X-API-Key', other.token).expect(200);
  });

  it('honours a key disabled by hand at once', async () => {
    await http().get(BASE).set('X-API-Key', admin.token).expect(200);
    await tenants.write('acme', `apiKeys:\n${admin.yaml}    enabled: false\n`);
    await http().get(BASE).set('X-API-Key', admin.token).expect(401);
  });

  it('accepts a minimal hand-written entry of name and hash', async () => {
    const token = 'any-token-at-all';
    await tenants.write(
      'acme',
      `apiKeys:\n${admin.yaml}  - name: minimal\n    hash: ${sha256(token)}\n`,
    );
    const res = await http().get(`${BASE}/minimal`).set('X-API-Key', admin.token).expect(200);
    expect(res.body).toEqual({ name: 'minimal', enabled: true, permissions: [] });
    await http().get(BASE).set('X-API-Key', token).expect(403);
  });

  it('keeps other sections and unknown entry fields through a rewrite, at mode 0600', async () => {
    await tenants.write(
      'acme',
      `# a comment\nversion: 3\napiKeys:\n${admin.yaml}    owner: team-a\n    labels: {env: prod}\nroles:\n  ops: [a, b]\n`,
    );
    await http().post(BASE).set('X-API-Key', admin.token).send({ name: 'new' }).expect(201);
    await http()
      .put(`${BASE}/admin`)
      .set('X-API-Key', admin.token)
      .send({ enabled: true })
      .expect(200);
    const doc = load(await tenants.read('acme')) as Record<string, any>;
    expect(Object.keys(doc)).toEqual(['version', 'apiKeys', 'roles']);
    expect(doc.version).toBe(3);
    expect(doc.roles).toEqual({ ops: ['a', 'b'] });
    expect(doc.apiKeys[0]).toMatchObject({
      name: 'admin',
      owner: 'team-a',
      labels: { env: 'prod' },
    });
    expect(doc.apiKeys[1]).toMatchObject({ name: 'new', enabled: true, permissions: [] });
    expect(doc.apiKeys[1].hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(tenants.file('acme'))).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['a syntax error', 'apiKeys:\n  - name: [unclosed\n', /line \d+/],
    ['apiKeys that is not a list', 'apiKeys: {name: x}\n', /apiKeys must be a list/],
    ['a duplicate name', 'DUP', /repeats apiKeys\[0\]/],
    ['a hash that is not 64 hex', 'apiKeys:\n  - name: a\n    hash: abc\n', /apiKeys\[0\]\.hash/],
    ['a duplicate mapping key', 'apiKeys: []\napiKeys: []\n', /duplicated mapping key/],
    [
      'a !!js/function tag',
      'x: !!js/function "function () {}"\napiKeys: []\n',
      /unknown scalar tag/,
    ],
    ['deep nesting', `x: ${'['.repeat(200)}${']'.repeat(200)}\napiKeys: []\n`, /maxDepth/],
    [
      'an alias flood',
      `a: &a [x]\nb: [${Array.from({ length: 2000 }, () => '*a').join(', ')}]\napiKeys: []\n`,
      /maxAliases/,
    ],
  ])(
    'answers 500 for %s saying only that the file is invalid, names the problem in `keys check`, and never overwrites the file',
    async (_what, text, problem) => {
      const content = text === 'DUP' ? `apiKeys:\n${admin.yaml}${admin.yaml}` : text;
      await tenants.write('acme', content);
      const create = await http().post(BASE).set('X-API-Key', admin.token).send({ name: 'x' });
      expect(create.status).toBe(500);
      const list = await http().get(BASE).set('X-API-Key', admin.token);
      expect(list.status).toBe(500);
      expect(list.headers['content-type']).toMatch(/problem\+json/);
      for (const detail of [create.body.detail, list.body.detail]) {
        expect(detail).toMatch(/security\.yml of tenant "acme" is invalid/);
        expect(detail).not.toMatch(problem);
        expect(detail).not.toMatch(/line \d/);
      }
      const check = await keys('check', 'acme').catch(
        (error: { code: number; stdout: string }) => error,
      );
      expect(check).toMatchObject({ code: 1, stdout: expect.stringMatching(problem) });
      expect(await tenants.read('acme')).toBe(content);
    },
  );

  it("never shows a broken file's content to anyone, whatever the credential", async () => {
    await tenants.write('acme', 'x: !<!Sup3rSecretPassw0rd> 1\napiKeys: []\n');
    for (const token of [admin.token, `tak_${'A'.repeat(49)}`, 'anything']) {
      const res = await http().get(BASE).set('X-API-Key', token);
      expect(res.text).not.toContain('Sup3rSecret');
    }
    await expect(keys('check', 'acme')).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/line 1, column \d+: .*Sup3rSecretPassw0rd/),
    });
  });

  it('says a valid file is valid in `keys check`', async () => {
    await expect(keys('check', 'acme')).resolves.toMatchObject({
      stdout: expect.stringMatching(/valid: 1 keys/),
    });
  });

  it('keeps other tenants working while one file is broken', async () => {
    const beta = handKey('admin', ['*']);
    await tenants.addTenant('beta', `apiKeys:\n${beta.yaml}`);
    await tenants.write('acme', 'apiKeys: [\n');
    await http().get(BASE).set('X-API-Key', admin.token).expect(500);
    await http().get('/api/beta/admin/apiKeys').set('X-API-Key', beta.token).expect(200);
  });

  it('serves the tenant again once the file is mended', async () => {
    await tenants.write('acme', 'apiKeys: [\n');
    await http().get(BASE).set('X-API-Key', admin.token).expect(500);
    await tenants.write('acme', `apiKeys:\n${admin.yaml}`);
    await http().get(BASE).set('X-API-Key', admin.token).expect(200);
  });

  it('refuses a file over the size cap before parsing it', async () => {
    await tenants.write('acme', `apiKeys: []\n# ${'x'.repeat(17 * 1024 * 1024)}\n`);
    await http().get(BASE).set('X-API-Key', admin.token).expect(500);
    await expect(keys('check', 'acme')).rejects.toMatchObject({
      stdout: expect.stringMatching(/exceeds 16777216 bytes/),
    });
  });

  it.each(['..', '.hidden', '%2E%2E', 'a%2Fb', 'a%00b', 'x'.repeat(65)])(
    'never reaches the file system for tenant id %s',
    async (tenantId) => {
      const res = await http()
        .post(`/api/${tenantId}/admin/apiKeys`)
        .set('X-API-Key', admin.token)
        .send({ name: 'x' });
      expect([401, 404]).toContain(res.status);
      expect(existsSync(join(tenants.root, '..', 'security.yml'))).toBe(false);
    },
  );

  it('never creates a tenant folder', async () => {
    await http()
      .post('/api/ghost/admin/apiKeys')
      .set('X-API-Key', admin.token)
      .send({ name: 'x' })
      .expect(401);
    expect(existsSync(join(tenants.root, 'ghost'))).toBe(false);
  });
});

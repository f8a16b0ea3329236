import type { INestApplication } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { runKeys } from './support/cli';
import { handKey, sha256, TenantsFixture } from './support/tenants';

const BASE = '/api/acme/admin/apiKeys';
const run = promisify(execFile);

describe('files that are not what they should be (e2e)', () => {
  let tenants: TenantsFixture;
  let app: INestApplication<App>;
  const admin = handKey('admin', ['*']);
  const beta = handKey('admin', ['*']);
  const http = () => request(app.getHttpServer());

  beforeEach(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
    await tenants.addTenant('beta', `apiKeys:\n${beta.yaml}`);
    app = await startApp({ TENANTS_DIR: tenants.root, AUTH_FAILURE_LIMIT: '100000' });
  });

  afterEach(async () => {
    await app.close();
    await tenants.remove();
  });

  it('refuses a FIFO named security.yml at once, in five tenants at a time, and other tenants go on', async () => {
    const fifos = ['f1', 'f2', 'f3', 'f4', 'f5'];
    for (const tenant of fifos) {
      await tenants.addTenant(tenant);
      await run('mkfifo', [tenants.file(tenant)]);
    }
    const started = Date.now();
    const answers = await Promise.all(
      fifos.flatMap((tenant) => [
        http().get(`/api/${tenant}/admin/apiKeys`).set('X-API-Key', admin.token),
        http().post(`/api/${tenant}/admin/apiKeys`).set('X-API-Key', 'x').send({ name: 'k' }),
      ]),
    );
    // A well-formed credential for a tenant whose file cannot be used: the file is the problem.
    expect(
      answers.map((res) => res.status).every((status) => status === 500 || status === 401),
    ).toBe(true);
    await http().get('/api/beta/admin/apiKeys').set('X-API-Key', beta.token).expect(200);
    await http().get('/health').expect(200);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await stat(tenants.file('f1'))).isFIFO()).toBe(true);
  });

  it('keeps answering other requests while an 8 MB file is being parsed', async () => {
    const entries = Array.from(
      { length: 60_000 },
      (_, i) =>
        `  - name: "bulk-${i}"\n    hash: "${sha256(`bulk-${i}`)}"\n    permissions: ["tenant.apiKey:read"]\n`,
    ).join('');
    await tenants.write('acme', `apiKeys:\n${admin.yaml}${entries}`);
    let pending = true;
    const big = http()
      .get(`${BASE}/admin`)
      .set('X-API-Key', admin.token)
      .then((res) => {
        pending = false;
        return res;
      });
    let answered = 0;
    while (pending) {
      await http().get('/api/beta/admin/apiKeys').set('X-API-Key', beta.token).expect(200);
      if (pending) answered++;
    }
    expect((await big).status).toBe(200);
    // Parsed on the event loop, the file would let through only what fits in its read.
    expect(answered).toBeGreaterThan(20);
  }, 60_000);

  it("never serves another tenant's keys through a symlinked security.yml", async () => {
    await tenants.addTenant('thief');
    await symlink(tenants.file('beta'), tenants.file('thief'));
    const res = await http().get('/api/thief/admin/apiKeys').set('X-API-Key', beta.token);
    expect(res.status).toBe(500);
    expect(res.body.detail).toMatch(/security\.yml of tenant "thief" is invalid/);
  });

  it('never writes through a symlinked audit.log, and stores nothing', async () => {
    const outside = join(tenants.root, '..', `outside-${Date.now()}.log`);
    await writeFile(outside, 'precious\n');
    await symlink(outside, tenants.file('acme', 'audit.log'));
    const before = await tenants.read('acme');
    const res = await http().post(BASE).set('X-API-Key', admin.token).send({ name: 'k' });
    expect(res.status).toBe(500);
    expect(res.text).not.toMatch(/tak_/);
    expect(await readFile(outside, 'utf8')).toBe('precious\n');
    expect(await tenants.read('acme')).toBe(before);
  });

  it('refuses a change that would grow security.yml past 16 MiB, writes nothing, and serves the tenant after', async () => {
    const limit = 16 * 1024 * 1024;
    // One long string in a section of its own brings the file close to the limit.
    const head = `notes: "`;
    const tail = `"\napiKeys:\n${admin.yaml}`;
    await tenants.write(
      'acme',
      `${head}${'n'.repeat(limit - 1500 - head.length - tail.length)}${tail}`,
    );
    const before = await tenants.read('acme');
    const many = Array.from({ length: 64 }, (_, i) => `tenant.permission-${i}:read`);
    const big = await http()
      .post(BASE)
      .set('X-API-Key', admin.token)
      .send({ name: 'big', permissions: many });
    expect(big.status).toBe(507);
    expect(big.body.detail).toMatch(/16777216/);
    expect(big.text).not.toMatch(/tak_/);
    expect(await tenants.read('acme')).toBe(before);
    const small = await http().post(BASE).set('X-API-Key', admin.token).send({ name: 'small' });
    expect(small.status).toBe(201);
    expect((await stat(tenants.file('acme'))).size).toBeLessThanOrEqual(limit);
    await expect(runKeys(tenants.root, ['check', 'acme'])).resolves.toMatchObject({
      stdout: expect.stringMatching(/valid: 2 keys/),
    });
  }, 60_000);
});

describe('the audit trail against tampering (e2e)', () => {
  let tenants: TenantsFixture;
  let app: INestApplication<App>;
  const admin = handKey('admin', ['*']);
  const verify = () =>
    runKeys(tenants.root, ['audit', 'verify', 'acme']).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
  const file = () => tenants.file('acme', 'audit.log');
  const lines = async () => (await readFile(file(), 'utf8')).trim().split('\n');

  beforeEach(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
    app = await startApp({ TENANTS_DIR: tenants.root });
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      await request(app.getHttpServer())
        .post(BASE)
        .set('X-API-Key', admin.token)
        .send({ name })
        .expect(201);
    }
    await app.close();
    expect(await verify()).toMatchObject({ code: 0, stdout: expect.stringMatching(/5 entries/) });
  });

  afterEach(async () => {
    await tenants.remove();
  });

  it.each([
    [
      'an edited line, named as itself',
      (l: string[]) => l.map((x, i) => (i === 2 ? x.replace('"c"', '"z"') : x)),
      3,
    ],
    [
      'an edited last line',
      (l: string[]) => l.map((x, i) => (i === 4 ? x.replace('"e"', '"z"') : x)),
      5,
    ],
    ['lines cut off the end', (l: string[]) => l.slice(0, 3), 3],
    ['a removed line', (l: string[]) => l.filter((_, i) => i !== 1), 2],
  ])('reports %s at the right line', async (_what, change, line) => {
    await writeFile(file(), `${change(await lines()).join('\n')}\n`);
    const verdict = await verify();
    expect(verdict.code).toBe(1);
    expect(verdict.stdout).toContain(`BROKEN at line ${line}`);
  });

  it('reports a forged line appended with a correct link and seal', async () => {
    const all = await lines();
    const last = JSON.parse(all[4]) as { hash: string };
    const body = JSON.stringify({
      seq: 6,
      time: new Date().toISOString(),
      requestId: 'forged',
      actor: 'cli:operator',
      action: 'delete',
      key: 'admin',
      changes: {},
      prev: last.hash,
    });
    const forged = `${body.slice(0, -1)},"hash":"${sha256(body)}"}`;
    await writeFile(file(), `${[...all, forged].join('\n')}\n`);
    const verdict = await verify();
    expect(verdict).toMatchObject({ code: 1, stdout: expect.stringContaining('BROKEN at line 6') });
  });
});

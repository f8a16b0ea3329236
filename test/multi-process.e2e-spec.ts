import { readFile } from 'node:fs/promises';
import { parseSecurityFile } from '../src/storage/yaml/security-file';
import { ServerProcess } from './support/server-process';
import { handKey, TenantsFixture } from './support/tenants';

jest.setTimeout(60_000);

const PATH = '/api/acme/admin/apiKeys';

describe('several processes on one TENANTS_DIR (e2e, built servers)', () => {
  let tenants: TenantsFixture;
  const servers: ServerProcess[] = [];
  const admin = handKey('admin', ['*']);

  const start = async () => {
    const server = await ServerProcess.start({ TENANTS_DIR: tenants.root });
    servers.push(server);
    return server;
  };
  const create = (server: ServerProcess, name: string) =>
    fetch(`${server.url}${PATH}`, {
      method: 'POST',
      headers: { 'X-API-Key': admin.token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name, permissions: ['tenant.apiKey:read'] }),
    });
  const list = (server: ServerProcess, token: string) =>
    fetch(`${server.url}${PATH}`, { headers: { 'X-API-Key': token } });

  beforeEach(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop('SIGKILL')));
    await tenants.remove();
  });

  it('a key created in A works at once in B, and a key deleted in B is refused by A', async () => {
    const [a, b] = [await start(), await start()];
    const created = await create(a, 'shared');
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    expect((await list(b, token)).status).toBe(200);
    expect((await list(a, token)).status).toBe(200);
    const deleted = await fetch(`${b.url}${PATH}/shared`, {
      method: 'DELETE',
      headers: { 'X-API-Key': admin.token },
    });
    expect(deleted.status).toBe(204);
    expect((await list(a, token)).status).toBe(401);
  });

  it('loses none of the creates two processes acknowledge concurrently', async () => {
    const [a, b] = [await start(), await start()];
    const results = await Promise.all(
      Array.from({ length: 80 }, (_, i) => create(i % 2 ? a : b, `k${i}`)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(80).fill(201));
    const stored = parseSecurityFile(await tenants.read('acme')).entries.map((e) => e.key.name);
    expect(stored).toHaveLength(81);
  });

  it('keeps every acknowledged key through a SIGKILL mid-storm, and serves the tenant after restart', async () => {
    const server = await start();
    const acknowledged: string[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const name = `w${w}-${i}`;
        try {
          const res = await create(server, name);
          if (res.status === 201) acknowledged.push(name);
        } catch {
          return; // the server is gone
        }
      }
    };
    const storm = Array.from({ length: 16 }, (_, w) => worker(w));
    while (acknowledged.length < 60) await new Promise((resolve) => setTimeout(resolve, 5));
    await server.stop('SIGKILL');
    stop = true;
    await Promise.all(storm);

    const text = await readFile(tenants.file('acme'), 'utf8');
    const stored = new Set(parseSecurityFile(text).entries.map((e) => e.key.name));
    expect(acknowledged.filter((name) => !stored.has(name))).toEqual([]);

    const restarted = await start();
    const res = await list(restarted, admin.token);
    expect(res.status).toBe(200);
    const names = ((await res.json()) as Array<{ name: string }>).map((k) => k.name);
    expect(names).toEqual(expect.arrayContaining(acknowledged));
    expect((await create(restarted, 'after-restart')).status).toBe(201);
  });
});

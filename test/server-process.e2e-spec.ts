import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { handKey, sha256, TenantsFixture } from './support/tenants';
import { runServerToExit, ServerProcess } from './support/server-process';

describe('the built server (e2e)', () => {
  let tenants: TenantsFixture;

  beforeAll(async () => {
    tenants = await TenantsFixture.create();
  });

  afterAll(async () => {
    await tenants.remove();
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ TENANTS_DIR: '/no/such/dir' }, 'TENANTS_DIR'],
    [{ AUTH_JWT_ALGORITHMS: 'HS256' }, 'AUTH_JWT_ALGORITHMS'],
  ])('refuses to start with %j, in one line naming the variable', async (env, variable) => {
    const { code, output } = await runServerToExit({ TENANTS_DIR: tenants.root, ...env });
    expect(code).toBe(1);
    const lines = output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
  });

  it('stops with one line when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = String((taken.address() as AddressInfo).port);
      const { code, output } = await runServerToExit({ TENANTS_DIR: tenants.root, PORT: port });
      expect(code).toBe(1);
      const lines = output.trim().split('\n');
      expect(lines.at(-1)).toMatch(/^tenant-api-keys: could not start: .*EADDRINUSE/);
      expect(output).not.toMatch(/\n\s+at /); // no stack
    } finally {
      taken.close();
    }
  });

  it('logs structured lines with request ids and never a token, hash or credential header', async () => {
    const admin = handKey('admin', ['*']);
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
    const server = await ServerProcess.start({ TENANTS_DIR: tenants.root });
    try {
      const base = `${server.url}/api/acme/admin/apiKeys`;
      const headers = { 'X-API-Key': admin.token, 'Content-Type': 'application/json' };
      const created = await fetch(base, { method: 'POST', headers, body: '{"name":"logged"}' });
      expect(created.status).toBe(201);
      const { token } = (await created.json()) as { token: string };
      await fetch(base, { headers: { 'X-API-Key': token, 'X-Request-Id': 'trace-me' } });
      await fetch(`${base}?token=${token}`, { headers: { Authorization: `Bearer ${token}` } });
      await fetch(base, { headers: { 'X-API-Key': 'tak_wrong-guess' } });
      await new Promise((resolve) => setTimeout(resolve, 200));

      const logs = server.logs;
      const lines = logs
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, any>);
      const requests = lines.filter((line) => line.req);
      expect(requests.length).toBeGreaterThanOrEqual(4);
      expect(requests.every((line) => typeof line.req.id === 'string')).toBe(true);
      expect(requests.some((line) => line.req.id === 'trace-me')).toBe(true);
      for (const secret of [
        admin.token,
        token,
        sha256(admin.token),
        sha256(token),
        'tak_wrong-guess',
      ]) {
        expect(logs).not.toContain(secret);
      }
      expect(logs.toLowerCase()).not.toContain('x-api-key');
      expect(logs.toLowerCase()).not.toContain('authorization');
    } finally {
      await server.stop();
    }
  });
});

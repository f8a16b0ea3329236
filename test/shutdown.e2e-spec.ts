import { readdir, readFile } from 'node:fs/promises';
import { parseSecurityFile } from '../src/storage/yaml/security-file';
import { ServerProcess } from './support/server-process';
import { handKey, TenantsFixture } from './support/tenants';

jest.setTimeout(60_000);

describe('SIGTERM during writes (e2e, built server)', () => {
  let tenants: TenantsFixture;
  const admin = handKey('admin', ['*']);

  beforeEach(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
  });

  afterEach(async () => {
    await tenants.remove();
  });

  it('acknowledges and stores each racing create, or refuses it and stores nothing, then exits cleanly', async () => {
    // The clients keep their keep-alive connections busy throughout: shutdown must not wait on them.
    const server = await ServerProcess.start({ TENANTS_DIR: tenants.root });
    const outcomes = new Map<string, number | 'failed'>();
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const name = `w${w}-${i}`;
        try {
          const res = await fetch(`${server.url}/api/acme/admin/apiKeys`, {
            method: 'POST',
            headers: { 'X-API-Key': admin.token, 'Content-Type': 'application/json' },
            body: JSON.stringify({ name }),
          });
          outcomes.set(name, res.status);
          await res.arrayBuffer();
        } catch {
          outcomes.set(name, 'failed');
          return;
        }
      }
    };
    const storm = Array.from({ length: 16 }, (_, w) => worker(w));
    while ([...outcomes.values()].filter((s) => s === 201).length < 40) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const started = Date.now();
    const exit = await server.stop('SIGTERM', 20_000);
    stop = true;
    await Promise.all(storm);
    const statuses = new Set(outcomes.values());
    expect([...statuses].every((s) => s === 201 || s === 503 || s === 'failed')).toBe(true);

    // The README's promise: a clean shutdown exits with status 0.
    const cleanly = exit.code === 0;
    expect(cleanly ? 'clean' : JSON.stringify({ exit, tail: server.logs.slice(-3000) })).toBe(
      'clean',
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    const stored = new Set(
      parseSecurityFile(await readFile(tenants.file('acme'), 'utf8')).entries.map(
        (e) => e.key.name,
      ),
    );
    for (const [name, outcome] of outcomes) {
      if (outcome === 201) expect(stored.has(name)).toBe(true);
      else expect(stored.has(name)).toBe(false);
    }
    expect(server.logs).not.toMatch(/shutdown took over/);
    // No lock or temp file left behind.
    expect((await readdir(tenants.file('acme', ''))).sort()).toEqual([
      'audit.anchor',
      'audit.log',
      'last-used.json',
      'security.yml',
    ]);
  });
});

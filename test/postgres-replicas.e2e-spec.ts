import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseSecurityFile } from '../src/storage/yaml/security-file';
import { freePort, startNodeScript } from './support/child-process';
import { runKeys } from './support/cli';
import { ServerProcess } from './support/server-process';
import { handKey } from './support/tenants';

const PATH = '/api/acme/admin/apiKeys';
const SCRIPT = join(__dirname, 'support', 'postgres-server.mjs');

type Key = { readonly enabled: boolean };

const call = (server: ServerProcess, method: string, path: string, token: string, body?: object) =>
  fetch(`${server.url}${path}`, {
    method,
    headers: { 'X-API-Key': token, ...(body && { 'Content-Type': 'application/json' }) },
    body: body && JSON.stringify(body),
  });

/** A PostgreSQL server of this spec's own, which it may stop and start again on its port. */
class OwnPostgres {
  private child?: ChildProcess;
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'pg-replicas-'));
    chmodSync(dir, 0o777);
    return new OwnPostgres(dir, await freePort());
  }

  get url(): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    // Not persistent between runs of the script: a restart re-initialises the data, so the
    // spec restarts it through `stop` and `start` only where it re-creates what it needs.
    const { child } = await startNodeScript(
      SCRIPT,
      [join(this.dir, 'data'), String(this.port)],
      /ready/,
    );
    this.child = child;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('replicas on one PostgreSQL database (e2e, built servers)', () => {
  let postgres: OwnPostgres;
  let a: ServerProcess;
  let b: ServerProcess;
  const admin = handKey('admin', ['*']);
  const env = () => ({
    STORAGE: 'postgres',
    DATABASE_URL: postgres.url,
    AUTH_FAILURE_LIMIT: '100000',
  });
  const keys = (...args: string[]) => runKeys('/nonexistent', args, env());

  /** The tenant acme with its admin key, loaded through `keys import`. */
  const seed = async () => {
    const file = join(tmpdir(), `acme-${process.pid}.yml`);
    await writeFile(file, `# from Git\nteam: platform\napiKeys:\n${admin.yaml}`);
    await keys('import', 'acme', file);
  };

  beforeAll(async () => {
    postgres = await OwnPostgres.create();
    await postgres.start();
    [a, b] = [await ServerProcess.start(env()), await ServerProcess.start(env())];
    // Both replicas migrate at once, under the advisory lock; then the tenant is loaded.
    for (let i = 0; i < 100 && (await fetch(`${a.url}/health`)).status !== 200; i++)
      await sleep(100);
    await seed();
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await postgres?.remove();
  });

  it('serves on each replica what the other acknowledged, at once: creates and revocations', async () => {
    const created = await call(a, 'POST', PATH, admin.token, { name: 'shared' });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    expect((await call(b, 'GET', PATH, token)).status).toBe(403); // authenticates; no scope
    let stale = 0;
    for (let i = 0; i < 100; i++) {
      const made = await call(a, 'POST', PATH, admin.token, {
        name: `revoke-${i}`,
        permissions: ['*'],
      });
      const key = (await made.json()) as { token: string };
      expect((await call(a, 'DELETE', `${PATH}/revoke-${i}`, admin.token)).status).toBe(204);
      if ((await call(b, 'GET', PATH, key.token)).status !== 401) stale++;
    }
    expect(stale).toBe(0);
  }, 60_000);

  it('stores every one of 60 concurrent creates spread over both replicas', async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        call(i % 2 ? a : b, 'POST', PATH, admin.token, { name: `spread-${i}` }).then(
          (r) => r.status,
        ),
      ),
    );
    expect(answers).toEqual(Array(60).fill(201));
    const listed = (await (await call(b, 'GET', PATH, admin.token)).json()) as Array<{
      name: string;
    }>;
    expect(listed.filter((k) => k.name.startsWith('spread-'))).toHaveLength(60);
  });

  it('gives one of 20 concurrent creates of one name the 201, on whichever replica, and 409 to the rest', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(i % 2 ? a : b, 'POST', PATH, admin.token, { name: 'contested' }).then((r) => r.status),
      ),
    );
    expect(answers.filter((s) => s === 201)).toHaveLength(1);
    expect(answers.filter((s) => s === 409)).toHaveLength(19);
  });

  it('exports the tenant as a security.yml, other sections kept, and refuses an import of a taken name', async () => {
    const { stdout } = await keys('export', 'acme');
    const exported = parseSecurityFile(stdout);
    expect(exported.sections.team).toBe('platform');
    expect(exported.entries.map((e) => e.key.name)).toContain('admin');
    const file = join(tmpdir(), `again-${process.pid}.yml`);
    await writeFile(file, `apiKeys:\n${handKey('admin', []).yaml}`);
    await expect(keys('import', 'acme', file)).rejects.toMatchObject({ code: 1 });
    await expect(keys('audit', 'verify', 'acme')).resolves.toMatchObject({
      stdout: expect.stringMatching(/chain intact/),
    });
  });

  it('answers 503 with Retry-After while the database is down, and resumes by itself when it is back', async () => {
    await postgres.stop();
    const down = await call(a, 'GET', PATH, admin.token);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBeTruthy();
    expect((await fetch(`${b.url}/health`)).status).toBe(503);
    await postgres.start(); // a fresh, empty server on the same port
    const deadline = Date.now() + 10_000;
    let health = 0;
    while (Date.now() < deadline && health !== 200) {
      await sleep(200);
      health = (await fetch(`${a.url}/health`)).status;
    }
    expect(health).toBe(200);
    await seed(); // the restarted server holds nothing: the tenant is loaded again
    const made = await call(a, 'POST', PATH, admin.token, { name: 'after', permissions: ['*'] });
    expect(made.status).toBe(201);
    const { token } = (await made.json()) as { token: string };
    expect((await call(b, 'GET', PATH, token)).status).toBe(200);
    expect((await call(b, 'DELETE', `${PATH}/after`, admin.token)).status).toBe(204);
    expect((await call(a, 'GET', PATH, token)).status).toBe(401);
  }, 60_000);
});

describe('a replica whose database is down at start-up (e2e, built server)', () => {
  it('starts anyway, answers 503 with Retry-After, and /health says so', async () => {
    const port = await freePort(); // nothing listens there
    const server = await ServerProcess.start({
      STORAGE: 'postgres',
      DATABASE_URL: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    });
    try {
      const res = await fetch(`${server.url}${PATH}`, { headers: { 'X-API-Key': 'tak_x' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect((await fetch(`${server.url}/health`)).status).toBe(503);
    } finally {
      await server.stop();
    }
  }, 30_000);
});

describe('replicas with AUTH_CACHE_MS (e2e, built servers)', () => {
  let postgres: OwnPostgres;
  let a: ServerProcess;
  let b: ServerProcess;
  const admin = handKey('admin', ['*']);
  const BOUND_MS = 1500;
  const env = () => ({
    STORAGE: 'postgres',
    DATABASE_URL: postgres.url,
    AUTH_CACHE_MS: String(BOUND_MS),
    AUTH_FAILURE_LIMIT: '100000',
  });
  const sql = async (text: string) => {
    const { Client } = await import('pg');
    const client = new Client({ connectionString: postgres.url });
    await client.connect();
    try {
      return (await client.query(text)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  };
  /** A key made on A and cached on B (its first use there). */
  const cachedOnB = async (name: string) => {
    const made = await call(a, 'POST', PATH, admin.token, { name, permissions: ['*'] });
    const { token } = (await made.json()) as { token: string };
    expect((await call(b, 'GET', PATH, token)).status).toBe(200);
    return token;
  };
  /** How long after the revocation B still accepted the key, polling every 20 ms. */
  const acceptedFor = async (token: string) => {
    const revoked = Date.now();
    while ((await call(b, 'GET', PATH, token)).status === 200) {
      if (Date.now() - revoked > 5000) break;
      await sleep(20);
    }
    return Date.now() - revoked;
  };

  beforeAll(async () => {
    postgres = await OwnPostgres.create();
    await postgres.start();
    [a, b] = [await ServerProcess.start(env()), await ServerProcess.start(env())];
    const file = join(tmpdir(), `acme-cache-${process.pid}.yml`);
    await writeFile(file, `apiKeys:\n${admin.yaml}`);
    await runKeys('/nonexistent', ['import', 'acme', file], env());
    // Both replicas listen before the spec relies on their caches.
    for (let i = 0; i < 50; i++) {
      const listeners = await sql(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN%'`,
      );
      if (listeners[0].n === 2) break;
      await sleep(100);
    }
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await postgres?.remove();
  });

  it('serves a cached key for up to the bound when a change bypasses the notification', async () => {
    const token = await cachedOnB('silent');
    await sql(`DELETE FROM api_keys WHERE name = 'silent'`); // no notification: only the bound
    expect((await call(b, 'GET', PATH, token)).status).toBe(200);
    expect((await call(a, 'GET', PATH, token)).status).toBe(401); // A never cached it
    const accepted = await acceptedFor(token);
    expect(accepted).toBeLessThan(BOUND_MS + 200);
    expect(accepted).toBeGreaterThan(BOUND_MS / 3);
  });

  it('serves a GET of one key from the cache too, for up to the bound', async () => {
    await cachedOnB('by-name');
    const url = `${PATH}/by-name`;
    expect(((await (await call(b, 'GET', url, admin.token)).json()) as Key).enabled).toBe(true);
    await sql(`UPDATE api_keys SET enabled = false WHERE name = 'by-name'`); // no notification
    expect(((await (await call(b, 'GET', url, admin.token)).json()) as Key).enabled).toBe(true);
    expect(((await (await call(a, 'GET', url, admin.token)).json()) as Key).enabled).toBe(false);
    await sleep(BOUND_MS);
    expect(((await (await call(b, 'GET', url, admin.token)).json()) as Key).enabled).toBe(false);
  });

  it('drops a revoked key from the other replica cache on notification, well within the bound', async () => {
    const token = await cachedOnB('notified');
    expect((await call(a, 'DELETE', `${PATH}/notified`, admin.token)).status).toBe(204);
    expect(await acceptedFor(token)).toBeLessThan(BOUND_MS);
  });

  it('refuses a key revoked while the listening connection was cut, within the bound', async () => {
    const token = await cachedOnB('cut-off');
    await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'`);
    expect((await call(a, 'DELETE', `${PATH}/cut-off`, admin.token)).status).toBe(204);
    expect(await acceptedFor(token)).toBeLessThan(BOUND_MS + 100);
  });
});

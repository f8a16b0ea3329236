import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../support/child-process';
import { ServerProcess } from '../support/server-process';
import { handKey, TenantsFixture } from '../support/tenants';

/** Debian's nginx, installed by .ci/run; override with NGINX_PATH. */
const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const SHIPPED = resolve('deploy/nginx/api-gateway.conf');

/**
 * A whole nginx.conf around the shipped locations: the two upstreams it expects, a server on
 * a free port, and every path nginx writes under `prefix` (so it runs unprivileged, anywhere).
 */
function nginxConf(prefix: string, port: number, service: number, upstream: number): string {
  return `daemon off;
master_process off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${prefix}/body;
    proxy_temp_path ${prefix}/proxy;
    fastcgi_temp_path ${prefix}/fastcgi;
    uwsgi_temp_path ${prefix}/uwsgi;
    scgi_temp_path ${prefix}/scgi;
    upstream tenant_api_keys { server 127.0.0.1:${service}; }
    upstream platform_api { server 127.0.0.1:${upstream}; }
    server {
        listen 127.0.0.1:${port};
        include ${SHIPPED};
    }
}
`;
}

describe('nginx auth_request in front of an API, with deploy/nginx/api-gateway.conf (real nginx)', () => {
  let tenants: TenantsFixture;
  let service: ServerProcess;
  let upstream: Server;
  let nginx: ChildProcess;
  let prefix: string;
  let gateway: string;
  /** What the guarded API received, request by request. */
  const received: IncomingHttpHeaders[] = [];
  const admin = handKey('admin', ['*']);
  const reader = handKey('reader', ['orders:read']);
  const billing = handKey('billing', ['billing:*']);
  const META = { plan: 'pro', seats: 5 };
  const metered = handKey(
    'metered',
    ['orders:read'],
    `    owner: "customer-42"\n    meta: ${JSON.stringify(META)}\n    rateLimit:\n      limit: 2\n      periodSeconds: 300\n`,
  );
  const trial = handKey('trial', ['orders:read'], '    credits:\n      remaining: 1\n');
  const fenced = handKey('fenced', ['orders:read'], '    allowedIps: ["10.0.0.0/8"]\n');
  const call = (token: string | undefined, headers: Record<string, string> = {}) =>
    fetch(`${gateway}/orders/42`, {
      headers: {
        'X-Tenant-Id': 'acme',
        ...(token !== undefined && { 'X-API-Key': token }),
        ...headers,
      },
    });

  beforeAll(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant(
      'acme',
      `apiKeys:\n${admin.yaml}${reader.yaml}${billing.yaml}${metered.yaml}${trial.yaml}${fenced.yaml}`,
    );
    service = await ServerProcess.start({
      TENANTS_DIR: tenants.root,
      TRUST_PROXY: 'loopback',
      AUTH_FAILURE_LIMIT: '5',
    });
    upstream = createServer((request, response) => {
      received.push(request.headers);
      response.setHeader('Content-Type', 'application/json');
      response.end(JSON.stringify({ order: 42 }));
    });
    await new Promise<void>((done) => upstream.listen(0, '127.0.0.1', done));
    prefix = await mkdtemp(join(tmpdir(), 'nginx-'));
    const port = await freePort();
    const conf = join(prefix, 'nginx.conf');
    await writeFile(
      conf,
      nginxConf(
        prefix,
        port,
        Number(new URL(service.url).port),
        (upstream.address() as AddressInfo).port,
      ),
    );
    // The configuration must pass nginx's own check first.
    const checked = await promisify(execFile)(NGINX, ['-t', '-p', prefix, '-c', conf]);
    expect(checked.stderr).toContain('test is successful');
    nginx = spawn(NGINX, ['-p', prefix, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    gateway = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        await fetch(gateway);
        break;
      } catch (error) {
        if (i > 100 || nginx.exitCode !== null) throw error;
        await sleep(50);
      }
    }
  }, 60_000);

  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    await service?.stop();
    await new Promise((done) => upstream?.close(done));
    await tenants?.remove();
    if (prefix) await rm(prefix, { recursive: true, force: true });
  });

  it('lets a key with the scope reach the API, which sees who called and never the key', async () => {
    received.length = 0;
    const res = await call(reader.token, { 'X-Auth-Key': 'spoofed', 'X-Auth-Tenant': 'evil' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ order: 42 });
    expect(received).toHaveLength(1);
    expect(received[0]['x-auth-key']).toBe('reader');
    expect(received[0]['x-auth-tenant']).toBe('acme');
    expect(received[0]['x-auth-permissions']).toBe('orders:read');
    expect(received[0]['x-api-key']).toBeUndefined();
  });

  it("hands the upstream the key's owner, meta and credits, never the client's, and the client its RateLimit fields", async () => {
    received.length = 0;
    const spoofed = {
      'X-Auth-Owner': 'evil',
      'X-Auth-Meta': 'e30',
      'X-Auth-Credits-Remaining': '9',
    };
    const res = await call(metered.token, spoofed);
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-limit')).toBe('2');
    expect(res.headers.get('ratelimit-remaining')).toBe('1');
    expect(received[0]['x-auth-owner']).toBe('customer-42');
    const meta = Buffer.from(String(received[0]['x-auth-meta']), 'base64url').toString();
    expect(JSON.parse(meta)).toEqual(META);
    expect(received[0]['x-auth-credits-remaining']).toBeUndefined(); // it has no credits
    const plain = await call(reader.token, spoofed);
    expect(plain.status).toBe(200);
    for (const header of ['x-auth-owner', 'x-auth-meta', 'x-auth-credits-remaining']) {
      expect(received[1][header]).toBeUndefined();
    }
    expect((await call(trial.token)).status).toBe(200);
    expect(received[2]['x-auth-credits-remaining']).toBe('0');
  });

  it('passes the check’s 429 past a rate limit or out of credits on with Retry-After, and a 403 for an address, reaching no upstream', async () => {
    expect((await call(metered.token)).status).toBe(200); // its second and last in the window
    received.length = 0;
    const limited = await call(metered.token);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    const spent = await call(trial.token);
    expect(spent.status).toBe(429);
    expect((await call(fenced.token)).status).toBe(403);
    expect((await call(fenced.token, { 'X-Forwarded-For': '10.2.3.4' })).status).toBe(200);
    expect(received).toHaveLength(1);
  });

  it('answers 403 to a key without the scope, and 401 with the challenge to none or an unknown one', async () => {
    received.length = 0;
    expect((await call(billing.token)).status).toBe(403);
    const none = await call(undefined);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('X-API-Key');
    expect((await call('tak_unknown')).status).toBe(401);
    expect(received).toHaveLength(0);
  });

  it('refuses a key deleted through the admin API on the very next request', async () => {
    const made = await fetch(`${service.url}/api/acme/admin/apiKeys`, {
      method: 'POST',
      headers: { 'X-API-Key': admin.token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'short-lived', permissions: ['orders:read'] }),
    });
    const { token } = (await made.json()) as { token: string };
    expect((await call(token)).status).toBe(200);
    const deleted = await fetch(`${service.url}/api/acme/admin/apiKeys/short-lived`, {
      method: 'DELETE',
      headers: { 'X-API-Key': admin.token },
    });
    expect(deleted.status).toBe(204);
    expect((await call(token)).status).toBe(401);
  });

  it('passes the check’s 400 and 429 (with Retry-After) on, and throttles the guessing client only', async () => {
    const noTenant = await fetch(`${gateway}/orders/42`, {
      headers: { 'X-API-Key': reader.token },
    });
    expect(noTenant.status).toBe(400);
    const guesser = { 'X-Forwarded-For': '203.0.113.9' };
    let last: Response | undefined;
    for (let i = 0; i < 8; i++) last = await call(`tak_guess_${i}`, guesser);
    expect(last?.status).toBe(429);
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(reader.token, guesser)).status).toBe(429);
    expect((await call(reader.token, { 'X-Forwarded-For': '198.51.100.4' })).status).toBe(200);
  });

  // Last: it stops the service.
  it('answers 503 when the check cannot be made, and lets nothing through', async () => {
    received.length = 0;
    await service.stop();
    expect((await call(reader.token)).status).toBe(503);
    expect(received).toHaveLength(0);
  });
});

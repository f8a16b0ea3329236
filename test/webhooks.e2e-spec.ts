import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { ServerProcess } from './support/server-process';
import { STORES, type TenantStore } from './support/stores';
import { handKey, sha256 } from './support/tenants';

jest.setTimeout(90_000);

const KEYS = '/api/acme/admin/apiKeys';
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;

interface Received {
  readonly id: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly body: string;
}

/**
 * The platform's end: records each POST whose Standard Webhooks signature verifies (with the
 * `standardwebhooks` package, as a platform would), answering `failFirst` of them 500.
 */
class Receiver {
  readonly received: Received[] = [];
  readonly refused: string[] = [];
  attempts = 0;
  failFirst = 0;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const verifier = new Webhook(SECRET);
    let receiver: Receiver | undefined = undefined;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const self = receiver as Receiver;
        self.attempts++;
        if (self.attempts <= self.failFirst) {
          res.statusCode = 500;
          res.end();
          return;
        }
        try {
          const payload = verifier.verify(body, headersOf(req.headers)) as Omit<
            Received,
            'id' | 'body'
          >;
          self.received.push({ id: String(req.headers['webhook-id']), body, ...payload });
          res.statusCode = 204;
        } catch {
          self.refused.push(body);
          res.statusCode = 400;
        }
        res.end();
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    receiver = new Receiver(
      server,
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    );
    return receiver;
  }

  /** Resolves once `count` events have arrived; fails after `timeoutMs`. */
  async awaitCount(count: number, timeoutMs = 20_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`received ${this.received.length} of ${count} webhooks`);
      }
      await sleep(50);
    }
    return this.received;
  }

  stop(): Promise<void> {
    return new Promise((done) => this.server.close(() => done()));
  }
}

function headersOf(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      Array.isArray(value) ? value[0] : String(value),
    ]),
  );
}

describe.each(STORES)('key events delivered as webhooks (e2e, %s)', (_backend, open) => {
  let tenants: TenantStore;
  let receiver: Receiver;
  const admin = handKey('admin', ['*']);
  const env = () => ({ ...tenants.env, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET });

  beforeEach(async () => {
    tenants = await open();
    receiver = await Receiver.start();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
  });

  afterEach(async () => {
    await receiver.stop();
    await tenants.remove();
  });

  describe('in one process', () => {
    let app: INestApplication<App>;
    const http = () => request(app.getHttpServer());

    afterEach(async () => {
      await app?.close();
    });

    it('POSTs each change, signed, in order, as it is acknowledged, with neither token nor hash', async () => {
      app = await startApp(env());
      const created = await http()
        .post(KEYS)
        .set('X-API-Key', admin.token)
        .send({ name: 'ci', permissions: ['orders:read'] })
        .expect(201);
      await http()
        .put(`${KEYS}/ci`)
        .set('X-API-Key', admin.token)
        .send({ enabled: false })
        .expect(200);
      const rotated = await http()
        .post(`${KEYS}/ci/rotate`)
        .set('X-API-Key', admin.token)
        .expect(200);
      await http().delete(`${KEYS}/ci`).set('X-API-Key', admin.token).expect(204);
      const events = await receiver.awaitCount(4);
      expect(events.map((event) => event.type)).toEqual([
        'api_key.created',
        'api_key.updated',
        'api_key.rotated',
        'api_key.deleted',
      ]);
      expect(events.map((event) => event.data.seq)).toEqual([1, 2, 3, 4]);
      expect(events[0]).toMatchObject({
        id: 'acme:1',
        data: { tenant: 'acme', key: 'ci', actor: 'api-key:admin' },
      });
      expect(events[1].data.changes).toEqual({ enabled: { from: true, to: false } });
      const all = events.map((event) => event.body).join('\n');
      for (const secret of [created.body.token, rotated.body.token]) {
        expect(all).not.toContain(secret);
        expect(all).not.toContain(sha256(secret));
      }
      expect(receiver.refused).toEqual([]);
    });

    it('sends api_key.expiring once for a key that expires within 7 days', async () => {
      app = await startApp(env());
      const soon = new Date(Date.now() + 3 * 86_400_000).toISOString();
      await http()
        .post(KEYS)
        .set('X-API-Key', admin.token)
        .send({ name: 'soon', expiresAt: soon })
        .expect(201);
      await http().post(KEYS).set('X-API-Key', admin.token).send({ name: 'later' }).expect(201);
      await receiver.awaitCount(3);
      await sleep(300);
      expect(receiver.received.map((event) => event.type)).toEqual([
        'api_key.created',
        'api_key.expiring',
        'api_key.created',
      ]);
      expect(receiver.received[1]).toMatchObject({
        id: `acme:expiring:soon@${new Date(soon).toISOString()}`,
        data: { tenant: 'acme', key: 'soon', expiresAt: new Date(soon).toISOString() },
      });
    });

    it('retries a failed delivery with backoff, holding the events after it in order', async () => {
      receiver.failFirst = 2;
      app = await startApp(env());
      for (const name of ['a', 'b', 'c']) {
        await http().post(KEYS).set('X-API-Key', admin.token).send({ name }).expect(201);
      }
      const events = await receiver.awaitCount(3);
      expect(events.map((event) => event.data.key)).toEqual(['a', 'b', 'c']);
      expect(receiver.attempts).toBe(5);
      const metrics = (await http().get('/metrics').expect(200)).text;
      expect(metrics).toMatch(/webhook_deliveries_total\{result="failed"\} 2/);
      expect(metrics).toMatch(/webhook_deliveries_total\{result="delivered"\} 3/);
    });

    it('does not send lines written before deliveries began', async () => {
      app = await startApp({ ...tenants.env });
      await http().post(KEYS).set('X-API-Key', admin.token).send({ name: 'before' }).expect(201);
      await app.close();
      app = await startApp(env());
      await http().post(KEYS).set('X-API-Key', admin.token).send({ name: 'after' }).expect(201);
      await receiver.awaitCount(1);
      await sleep(300);
      expect(receiver.received.map((event) => event.data.key)).toEqual(['after']);
    });
  });

  describe('across processes (built servers)', () => {
    const servers: ServerProcess[] = [];
    const start = async () => {
      const server = await ServerProcess.start(env());
      servers.push(server);
      return server;
    };
    const create = (server: ServerProcess, name: string) =>
      fetch(`${server.url}${KEYS}`, {
        method: 'POST',
        headers: { 'X-API-Key': admin.token, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name }),
      });

    afterEach(async () => {
      await Promise.all(servers.splice(0).map((server) => server.stop('SIGKILL')));
    });

    it('resumes after a restart where it stopped, delivering what was written meanwhile', async () => {
      const first = await start();
      for (const name of ['a', 'b']) expect((await create(first, name)).status).toBe(201);
      await receiver.awaitCount(2);
      expect((await first.stop()).code).toBe(0);
      await tenants.keys(['create', 'acme', 'while-down']);
      await start();
      await receiver.awaitCount(3);
      await sleep(500);
      expect(receiver.received.map((event) => event.data.key)).toEqual(['a', 'b', 'while-down']);
    });

    it('delivers each event of two replicas once, in order', async () => {
      const [a, b] = [await start(), await start()];
      const names = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
      for (const [i, name] of names.entries()) {
        expect((await create(i % 2 ? a : b, name)).status).toBe(201);
      }
      await receiver.awaitCount(20);
      await sleep(SETTLE_MS);
      const ids = receiver.received.map((event) => event.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(receiver.received.map((event) => event.data.seq)).toEqual(names.map((_, i) => i + 1));
    });
  });
});

/** Longer than a sweep: any second delivery would have arrived by then. */
const SETTLE_MS = 6_000;

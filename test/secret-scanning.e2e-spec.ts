import type { INestApplication } from '@nestjs/common';
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { STORES, type TenantStore } from './support/stores';
import { handKey, sha256 } from './support/tenants';

const KEYS = '/api/acme/admin/apiKeys';
const KEY_ID = 'reporter-key-1';

/**
 * A fake GitHub: its own P-256 key, published at a local keys URL in GitHub's format, with which
 * it signs reports as GitHub does (ECDSA, SHA-256, base64 of the DER signature).
 */
class FakeReporter {
  readonly privateKey: KeyObject;
  private readonly server: Server;
  private constructor(
    readonly url: string,
    server: Server,
    privateKey: KeyObject,
    private readonly counter: { fetches: number },
  ) {
    this.server = server;
    this.privateKey = privateKey;
  }

  /** How often the keys were fetched. */
  get fetches(): number {
    return this.counter.fetches;
  }

  static async start(): Promise<FakeReporter> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const counter = { fetches: 0 };
    const server = createServer((_request, response) => {
      counter.fetches++;
      response.setHeader('Content-Type', 'application/json');
      response.end(
        JSON.stringify({ public_keys: [{ key_identifier: KEY_ID, key: pem, is_current: true }] }),
      );
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/meta/public_keys/secret_scanning`;
    return new FakeReporter(url, server, privateKey, counter);
  }

  signature(body: string, key: KeyObject = this.privateKey): string {
    return sign('sha256', Buffer.from(body), key).toString('base64');
  }

  stop(): Promise<void> {
    return new Promise((done) => this.server.close(() => done()));
  }
}

describe.each(STORES)('leaked keys revoked by themselves (e2e, %s)', (_backend, open) => {
  let tenants: TenantStore;
  let app: INestApplication<App>;
  let reporter: FakeReporter;
  const admin = handKey('admin', ['*']);
  const betaAdmin = handKey('admin', ['*']);
  const http = () => request(app.getHttpServer());
  const start = async (env: Record<string, string> = {}) => {
    app = await startApp({ ...tenants.env, SECRET_SCANNING_KEYS_URL: reporter.url, ...env });
  };
  const mint = async (name: string, tenant = 'acme', token = admin.token): Promise<string> => {
    const res = await http()
      .post(`/api/${tenant}/admin/apiKeys`)
      .set('X-API-Key', tenant === 'acme' ? token : betaAdmin.token)
      .send({ name, permissions: ['orders:read'] })
      .expect(201);
    return res.body.token as string;
  };
  const matches = (...tokens: string[]) =>
    tokens.map((token) => ({
      token,
      type: 'tenant_api_key',
      url: 'https://github.com/octo/repo/blob/main/.env',
      source: 'content',
    }));
  const report = (body: unknown, signature?: string, keyId = KEY_ID) => {
    const text = JSON.stringify(body);
    const call = http()
      .post('/secret-scanning/github')
      .set('Content-Type', 'application/json')
      .set('Github-Public-Key-Identifier', keyId);
    return call
      .set('Github-Public-Key-Signature', signature ?? reporter.signature(text))
      .send(text);
  };
  const get = (name: string, tenant = 'acme') =>
    http()
      .get(`/api/${tenant}/admin/apiKeys/${name}`)
      .set('X-API-Key', tenant === 'acme' ? admin.token : betaAdmin.token);
  const verify = (token: string, tenant = 'acme') =>
    http().get(`/auth/verify?tenant=${tenant}`).set('X-API-Key', token);

  beforeEach(async () => {
    tenants = await open();
    reporter = await FakeReporter.start();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
    await tenants.addTenant('beta', `apiKeys:\n${betaAdmin.yaml}`);
  });

  afterEach(async () => {
    await app?.close();
    await reporter.stop();
    await tenants.remove();
  });

  it('disables the key of a reported token in whichever tenant holds it, answers in GitHub’s format, and audits it without the token', async () => {
    await start();
    const token = await mint('ci');
    const other = await mint('deploy', 'beta');
    const res = await report(matches(token, other, `tak_${'x'.repeat(49)}`)).expect(200);
    expect(res.body).toEqual([
      { token_hash: sha256(token), token_type: 'tenant_api_key', label: 'true_positive' },
      { token_hash: sha256(other), token_type: 'tenant_api_key', label: 'true_positive' },
      {
        token_hash: sha256(`tak_${'x'.repeat(49)}`),
        token_type: 'tenant_api_key',
        label: 'false_positive',
      },
    ]);
    const key = (await get('ci').expect(200)).body;
    expect(key.enabled).toBe(false);
    expect(Date.parse(key.leakedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect((await get('deploy', 'beta').expect(200)).body.enabled).toBe(false);
    expect((await verify(token).expect(401)).body.code).toBe('DISABLED');
    const lines = await tenants.auditLines('acme');
    const leak = JSON.parse(lines[lines.length - 1]);
    expect(leak).toMatchObject({
      action: 'leak',
      actor: 'scanner:github',
      key: 'ci',
      url: 'https://github.com/octo/repo/blob/main/.env',
      source: 'content',
      changes: { enabled: { from: true, to: false }, leakedAt: { from: null, to: key.leakedAt } },
    });
    expect(lines.join('\n')).not.toContain(token);
    expect(lines.join('\n')).not.toContain(sha256(token));
  });

  it('changes nothing more when the same report comes again', async () => {
    await start();
    const token = await mint('ci');
    await report(matches(token)).expect(200);
    const lines = await tenants.auditLines('acme');
    const stored = await tenants.read('acme');
    const again = await report(matches(token)).expect(200);
    expect(again.body[0].label).toBe('true_positive');
    expect(await tenants.auditLines('acme')).toEqual(lines);
    expect(await tenants.read('acme')).toBe(stored);
  });

  it('ends the grace of a replaced token that leaked, and leaves the key and its new token working', async () => {
    await start();
    const old = await mint('ci');
    const rotated = await http()
      .post(`${KEYS}/ci/rotate`)
      .set('X-API-Key', admin.token)
      .send({ gracePeriodSeconds: 3600 })
      .expect(200);
    await verify(old).expect(200);
    expect((await report(matches(old)).expect(200)).body[0].label).toBe('true_positive');
    await verify(old).expect(401);
    await verify(rotated.body.token).expect(200);
    const key = (await get('ci')).body;
    expect(key).toMatchObject({ enabled: true, leakedAt: expect.any(String) });
    expect(key.previousTokenExpiresAt).toBeUndefined();
  });

  it('with LEAKED_KEY_ACTION=report, marks and audits the key but leaves it working', async () => {
    await start({ LEAKED_KEY_ACTION: 'report' });
    const token = await mint('ci');
    await report(matches(token)).expect(200);
    expect((await get('ci')).body).toMatchObject({ enabled: true, leakedAt: expect.any(String) });
    await verify(token).expect(200);
    const lines = (await tenants.auditLines('acme')).map((line) => JSON.parse(line));
    expect(lines.filter((line) => line.action === 'leak')).toHaveLength(1);
    await report(matches(token)).expect(200);
    expect((await tenants.auditLines('acme')).length).toBe(lines.length);
  });

  it('answers 401 and does nothing for a report without a signature, with a bad one, or signed by another key', async () => {
    await start();
    const token = await mint('ci');
    const body = JSON.stringify(matches(token));
    const unsigned = await http()
      .post('/secret-scanning/github')
      .set('Content-Type', 'application/json')
      .send(body)
      .expect(401);
    expect(unsigned.headers['www-authenticate']).toBeDefined();
    await report(matches(token), reporter.signature(JSON.stringify(matches('tampered')))).expect(
      401,
    );
    await report(matches(token), 'not base64 at all').expect(401);
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    await report(matches(token), reporter.signature(body, stranger)).expect(401);
    await report(matches(token), undefined, 'unknown-key').expect(401);
    expect((await get('ci')).body).toMatchObject({ enabled: true });
    expect((await get('ci')).body.leakedAt).toBeUndefined();
  });

  it('fetches the published keys once, and made-up identifiers do not make it fetch again at once', async () => {
    await start();
    const token = await mint('ci');
    await report(matches(token)).expect(200);
    for (let i = 0; i < 5; i++) await report(matches(token), undefined, `made-up-${i}`).expect(401);
    await report(matches(token)).expect(200);
    expect(reporter.fetches).toBe(1);
  });

  it('answers 400 for a signed report that is not a list of matches, and 503 when the keys cannot be fetched', async () => {
    await start();
    const bad = await report({ token: 'x' }).expect(400);
    expect(bad.body.errors[0].field).toBe('body');
    const noToken = await report([{ type: 'tenant_api_key' }]).expect(400);
    expect(noToken.body.errors[0].field).toBe('[0].token');
    await app.close();
    await start({ SECRET_SCANNING_KEYS_URL: 'http://127.0.0.1:9/nothing-listens-here' });
    const res = await report(matches('tak_x')).expect(503);
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('finds a key written by hand after an earlier report', async () => {
    await start();
    const first = await mint('ci');
    await report(matches(first)).expect(200);
    const hand = handKey('hand', ['orders:read']);
    await tenants.write('beta', `apiKeys:\n${betaAdmin.yaml}${hand.yaml}`);
    const res = await report(matches(hand.token)).expect(200);
    expect(res.body[0].label).toBe('true_positive');
    expect((await get('hand', 'beta')).body.enabled).toBe(false);
  });

  it('does the same from the command line for a token, or a file of them', async () => {
    await start();
    const token = await mint('ci');
    const other = await mint('deploy');
    const { stdout } = await tenants.keys(['leaked', token, '--url', 'https://paste.example/1']);
    expect(stdout).toContain('acme/ci, handled now, disabled');
    expect(stdout).not.toContain(token);
    const file = join(await mkdtemp(join(tmpdir(), 'leaked-')), 'tokens.txt');
    await writeFile(file, `${token}\n${other}\n`);
    const again = await tenants.keys(['leaked', file]);
    expect(again.stdout).toContain('acme/ci, already handled, disabled');
    expect(again.stdout).toContain('acme/deploy, handled now, disabled');
    const lines = (await tenants.auditLines('acme')).map((line) => JSON.parse(line));
    expect(lines.filter((line) => line.action === 'leak')).toEqual([
      expect.objectContaining({
        key: 'ci',
        actor: 'cli:operator',
        url: 'https://paste.example/1',
        source: 'cli',
      }),
      expect.objectContaining({ key: 'deploy', actor: 'cli:operator', source: 'cli' }),
    ]);
  });
});

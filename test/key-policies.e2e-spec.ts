import type { INestApplication } from '@nestjs/common';
import { load } from 'js-yaml';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { STORES, type TenantStore } from './support/stores';
import { handKey } from './support/tenants';

const BASE = '/api/acme/admin/apiKeys';
const PROBLEM = /^application\/problem\+json/;

/** The entries of a security.yml text, by name, as a reader of the file sees them. */
function entriesOf(text: string): Record<string, Record<string, unknown>> {
  const document = (load(text) ?? {}) as { apiKeys?: Array<Record<string, unknown>> };
  return Object.fromEntries((document.apiKeys ?? []).map((entry) => [entry.name, entry]));
}

describe.each(STORES)(
  'key policies: owner, rate limit, credits, addresses, meta (e2e, %s)',
  (_backend, open) => {
    let tenants: TenantStore;
    let app: INestApplication<App>;
    const admin = handKey('admin', ['*']);
    const http = () => request(app.getHttpServer());
    const create = (body: object) => http().post(BASE).set('X-API-Key', admin.token).send(body);
    const update = (name: string, body: object) =>
      http().put(`${BASE}/${name}`).set('X-API-Key', admin.token).send(body);
    const get = (name: string) => http().get(`${BASE}/${name}`).set('X-API-Key', admin.token);
    const verify = (token: string, query = '') =>
      http().get(`/auth/verify?tenant=acme${query}`).set('X-API-Key', token);
    /** A key made through the API with the given fields, and its token. */
    const made = async (body: object): Promise<string> =>
      (
        (await create({ permissions: ['orders:read'], ...body }).expect(201)).body as {
          token: string;
        }
      ).token;

    beforeEach(async () => {
      tenants = await open();
      await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}`);
      app = await startApp({
        ...tenants.env,
        AUTH_FAILURE_LIMIT: '100000',
        TRUST_PROXY: 'loopback',
      });
    });

    afterEach(async () => {
      await app.close();
      await tenants.remove();
    });

    const FULL = {
      name: 'paid',
      owner: 'customer-42',
      rateLimit: { limit: 100, periodSeconds: 60 },
      credits: { remaining: 500, refill: { amount: 1000, intervalSeconds: 86400 } },
      allowedIps: ['10.0.0.0/8', '2001:db8::/32'],
      meta: { plan: 'pro', limits: { seats: 5 }, tags: ['a', 'b'] },
    };

    describe('the fields of a key', () => {
      it('are stored by create, answered, shown by GET and written to the store as given', async () => {
        const created = await create(FULL).expect(201);
        const { owner, rateLimit, credits, allowedIps, meta } = FULL;
        const policies = { owner, rateLimit, credits, allowedIps, meta };
        expect(created.body).toMatchObject(policies);
        expect((await get('paid').expect(200)).body).toMatchObject(policies);
        expect(entriesOf(await tenants.read('acme')).paid).toMatchObject(policies);
      });

      it('are kept by an update that leaves them out, replaced when given, removed with null', async () => {
        await create(FULL).expect(201);
        const kept = await update('paid', { enabled: false }).expect(200);
        expect(kept.body).toMatchObject({ owner: 'customer-42', meta: FULL.meta });
        const replaced = await update('paid', {
          enabled: true,
          owner: 'customer-43',
          rateLimit: { limit: 5, periodSeconds: 1 },
          allowedIps: [],
        }).expect(200);
        expect(replaced.body).toMatchObject({
          owner: 'customer-43',
          rateLimit: { limit: 5, periodSeconds: 1 },
          allowedIps: [],
        });
        const removed = await update('paid', {
          enabled: true,
          owner: null,
          rateLimit: null,
          credits: null,
          allowedIps: null,
          meta: null,
        }).expect(200);
        for (const field of ['owner', 'rateLimit', 'credits', 'allowedIps', 'meta']) {
          expect(removed.body).not.toHaveProperty(field);
          expect(entriesOf(await tenants.read('acme')).paid).not.toHaveProperty(field);
        }
      });

      it.each([
        ['a limit of 0', { rateLimit: { limit: 0, periodSeconds: 60 } }, 'rateLimit.limit'],
        [
          'a period over a day',
          { rateLimit: { limit: 5, periodSeconds: 86401 } },
          'rateLimit.periodSeconds',
        ],
        [
          'an unknown rate-limit field',
          { rateLimit: { limit: 5, periodSeconds: 60, burst: 1 } },
          'rateLimit.burst',
        ],
        ['a null rate limit on create', { rateLimit: null }, 'rateLimit'],
        ['negative credits', { credits: { remaining: -1 } }, 'credits.remaining'],
        ['fractional credits', { credits: { remaining: 1.5 } }, 'credits.remaining'],
        [
          'a refill under a minute',
          { credits: { remaining: 5, refill: { amount: 10, intervalSeconds: 59 } } },
          'credits.refill.intervalSeconds',
        ],
        [
          'a refill of nothing',
          { credits: { remaining: 5, refill: { amount: 0, intervalSeconds: 60 } } },
          'credits.refill.amount',
        ],
        ['an address that is none', { allowedIps: ['10.0.0.0/8', '10.0.0.300'] }, 'allowedIps[1]'],
        ['a prefix too long', { allowedIps: ['10.0.0.0/33'] }, 'allowedIps[0]'],
        ['65 addresses', { allowedIps: Array(65).fill('::1') }, 'allowedIps'],
        ['addresses as a string', { allowedIps: '10.0.0.0/8' }, 'allowedIps'],
        ['meta 5 deep', { meta: { a: { b: { c: { d: { e: 1 } } } } } }, 'meta'],
        ['meta over 4 KB', { meta: { blob: 'x'.repeat(4100) } }, 'meta'],
        ['meta as an array', { meta: ['not', 'an', 'object'] }, 'meta'],
        ['an owner with a space', { owner: 'two words' }, 'owner'],
        ['an empty owner', { owner: '' }, 'owner'],
      ])('refuses %s with 400 naming the field, storing nothing', async (_label, fields, named) => {
        const before = await tenants.read('acme');
        const res = await create({ name: 'bad', ...fields }).expect(400);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.detail).toContain(named);
        expect(res.body.errors[0].field).toBe(named.split(/[.[]/)[0]);
        expect(await tenants.read('acme')).toBe(before);
      });

      it('refuses a bad field in an update with 400, changing nothing', async () => {
        await create(FULL).expect(201);
        const before = await tenants.read('acme');
        const res = await update('paid', { enabled: false, allowedIps: ['::1', 'nope'] }).expect(
          400,
        );
        expect(res.body.detail).toContain('allowedIps[1]');
        expect(await tenants.read('acme')).toBe(before);
      });

      it("lists one owner's keys with ?owner=, and refuses an owner that cannot be one", async () => {
        await create({ name: 'a1', owner: 'alice' }).expect(201);
        await create({ name: 'b1', owner: 'bob' }).expect(201);
        await create({ name: 'a2', owner: 'alice' }).expect(201);
        const alices = await http()
          .get(`${BASE}?owner=alice`)
          .set('X-API-Key', admin.token)
          .expect(200);
        expect(alices.body.map((key: { name: string }) => key.name)).toEqual(['a1', 'a2']);
        const nobody = await http()
          .get(`${BASE}?owner=carol`)
          .set('X-API-Key', admin.token)
          .expect(200);
        expect(nobody.body).toEqual([]);
        const bad = await http()
          .get(`${BASE}?owner=a%20b`)
          .set('X-API-Key', admin.token)
          .expect(400);
        expect(bad.body.errors).toEqual([{ field: 'owner', message: expect.any(String) }]);
      });

      it('are audited with what changed (credits as granted, never what was spent)', async () => {
        const token = await made({ name: 'k', credits: { remaining: 3 } });
        await verify(token).expect(200);
        await update('k', { enabled: true, owner: 'alice', meta: { plan: 'pro' } }).expect(200);
        const lines = (await tenants.auditLines('acme')).map((line) => JSON.parse(line));
        expect(lines.map((line) => line.action)).toEqual(['create', 'update']);
        expect(lines[0].changes.credits).toEqual({ from: null, to: { remaining: 3 } });
        expect(lines[1].changes).toEqual({
          owner: { from: null, to: 'alice' },
          meta: { from: null, to: { plan: 'pro' } },
        });
      });
    });

    describe('at verification', () => {
      it('passes the owner and the meta (base64url JSON) to the gateway', async () => {
        const token = await made({ name: 'k', owner: 'customer-42', meta: FULL.meta });
        const res = await verify(token).expect(200);
        expect(res.headers['x-auth-owner']).toBe('customer-42');
        expect(JSON.parse(Buffer.from(res.headers['x-auth-meta'], 'base64url').toString())).toEqual(
          FULL.meta,
        );
        expect(res.body).toMatchObject({ owner: 'customer-42', meta: FULL.meta });
        const plain = await verify(await made({ name: 'plain' })).expect(200);
        expect(plain.headers['x-auth-owner']).toBeUndefined();
        expect(plain.headers['x-auth-meta']).toBeUndefined();
      });

      it('refuses a client outside the allowed addresses with 403 IP_NOT_ALLOWED, as TRUST_PROXY says', async () => {
        const token = await made({ name: 'k', allowedIps: ['10.0.0.0/8'] });
        const refused = await verify(token).expect(403);
        expect(refused.body).toMatchObject({ status: 403, code: 'IP_NOT_ALLOWED' });
        // From loopback, which TRUST_PROXY trusts, the original client is X-Forwarded-For's.
        await verify(token).set('X-Forwarded-For', '10.1.2.3').expect(200);
        await verify(token).set('X-Forwarded-For', '192.0.2.1').expect(403);
        // The test client reaches the server over IPv4, seen as ::ffff:127.0.0.1 or 127.0.0.1.
        await verify(await made({ name: 'local', allowedIps: ['127.0.0.0/8'] })).expect(200);
      });

      it('answers 429 RATE_LIMITED with Retry-After past the limit, and the RateLimit fields on every verify', async () => {
        const token = await made({ name: 'k', rateLimit: { limit: 3, periodSeconds: 60 } });
        for (const left of [2, 1, 0]) {
          const res = await verify(token).expect(200);
          expect(res.headers['ratelimit-limit']).toBe('3');
          expect(res.headers['ratelimit-remaining']).toBe(String(left));
          expect(Number(res.headers['ratelimit-reset'])).toBeGreaterThan(0);
          expect(Number(res.headers['ratelimit-reset'])).toBeLessThanOrEqual(60);
        }
        const limited = await verify(token).expect(429);
        expect(limited.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
        expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
        expect(limited.headers['ratelimit-remaining']).toBe('0');
        // Another key is not held back by it.
        await verify(await made({ name: 'free' })).expect(200);
      });

      it('spends a credit per verify (X-Auth-Credits-Remaining), ?cost=N spends N, 0 spends none, and 429 USAGE_EXCEEDED when out', async () => {
        const token = await made({ name: 'k', credits: { remaining: 5 } });
        expect((await verify(token).expect(200)).headers['x-auth-credits-remaining']).toBe('4');
        expect(
          (await verify(token, '&cost=3').expect(200)).headers['x-auth-credits-remaining'],
        ).toBe('1');
        expect(
          (await verify(token, '&cost=0').expect(200)).headers['x-auth-credits-remaining'],
        ).toBe('1');
        const over = await verify(token, '&cost=2').expect(429);
        expect(over.body).toMatchObject({ status: 429, code: 'USAGE_EXCEEDED' });
        await verify(token).expect(200);
        const out = await verify(token).expect(429);
        expect(out.body.code).toBe('USAGE_EXCEEDED');
        expect((await get('k').expect(200)).body.credits).toEqual({ remaining: 0 });
      });

      it.each(['-1', 'abc', '1.5', '99999999999999999'])(
        'refuses ?cost=%s with 400 naming cost',
        async (cost) => {
          const token = await made({ name: 'k', credits: { remaining: 5 } });
          const res = await verify(token, `&cost=${cost}`).expect(400);
          expect(res.body.errors[0].field).toBe('cost');
          expect((await get('k')).body.credits.remaining).toBe(5);
        },
      );

      it('spends no credit on a verify refused for its scope or its rate limit', async () => {
        const token = await made({
          name: 'k',
          rateLimit: { limit: 2, periodSeconds: 60 },
          credits: { remaining: 10 },
        });
        await verify(token, '&scope=billing:write').expect(403);
        await verify(token).expect(200);
        await verify(token).expect(200);
        await verify(token).expect(429);
        expect((await get('k')).body.credits.remaining).toBe(8);
      });

      it('takes a new credits.remaining at the next verify: set through the API (even the same number) or by hand', async () => {
        const token = await made({ name: 'k', credits: { remaining: 1 } });
        await verify(token).expect(200);
        await verify(token).expect(429);
        await update('k', { enabled: true, credits: { remaining: 1 } }).expect(200);
        await verify(token).expect(200);
        await verify(token).expect(429);
        const text = await tenants.read('acme');
        await tenants.write('acme', text.replace(/remaining: \d+/, 'remaining: 2'));
        await verify(token).expect(200);
        await verify(token).expect(200);
        await verify(token).expect(429);
      });

      it('holds a hand-written key to its policies from the next request', async () => {
        const hand = handKey(
          'hand',
          ['orders:read'],
          '    owner: "bob"\n    rateLimit:\n      limit: 1\n      periodSeconds: 60\n    meta:\n      tier: gold\n',
        );
        await tenants.write('acme', `apiKeys:\n${admin.yaml}${hand.yaml}`);
        const res = await verify(hand.token).expect(200);
        expect(res.headers['x-auth-owner']).toBe('bob');
        expect(res.body.meta).toEqual({ tier: 'gold' });
        await verify(hand.token).expect(429);
      });

      it('counts the new outcomes in api_key_verifications_total, with no key or owner in a label', async () => {
        const token = await made({
          name: 'secret-key-name',
          owner: 'secret-owner',
          credits: { remaining: 0 },
        });
        await verify(token).expect(429);
        const limited = await made({ name: 'k2', rateLimit: { limit: 1, periodSeconds: 60 } });
        await verify(limited).expect(200);
        await verify(limited).expect(429);
        await verify(await made({ name: 'k3', allowedIps: ['10.0.0.0/8'] })).expect(403);
        const metrics = (await http().get('/metrics').expect(200)).text;
        for (const outcome of ['USAGE_EXCEEDED', 'RATE_LIMITED', 'IP_NOT_ALLOWED']) {
          expect(metrics).toMatch(
            new RegExp(`api_key_verifications_total\\{outcome="${outcome}"\\} 1`),
          );
        }
        expect(metrics).not.toContain('secret-owner');
        expect(metrics).not.toContain('secret-key-name');
      });
    });

    describe('on the admin API, which the same check guards', () => {
      it('spends a credit per request, and answers 429 USAGE_EXCEEDED when out', async () => {
        const token = await made({
          name: 'ops',
          permissions: ['tenant.apiKey:read'],
          credits: { remaining: 2 },
        });
        await http().get(BASE).set('X-API-Key', token).expect(200);
        await http().get(BASE).set('X-API-Key', token).expect(200);
        const out = await http().get(BASE).set('X-API-Key', token).expect(429);
        expect(out.body.code).toBe('USAGE_EXCEEDED');
      });

      it('answers 429 RATE_LIMITED with the RateLimit fields, and 403 IP_NOT_ALLOWED', async () => {
        const limited = await made({
          name: 'ops',
          permissions: ['tenant.apiKey:read'],
          rateLimit: { limit: 1, periodSeconds: 60 },
        });
        const ok = await http().get(BASE).set('X-API-Key', limited).expect(200);
        expect(ok.headers['ratelimit-limit']).toBe('1');
        const res = await http().get(BASE).set('X-API-Key', limited).expect(429);
        expect(res.body.code).toBe('RATE_LIMITED');
        expect(res.headers['retry-after']).toBeDefined();
        const fenced = await made({
          name: 'fenced',
          permissions: ['tenant.apiKey:read'],
          allowedIps: ['10.0.0.0/8'],
        });
        const refused = await http().get(BASE).set('X-API-Key', fenced).expect(403);
        expect(refused.body.code).toBe('IP_NOT_ALLOWED');
      });

      it('spends nothing on a request refused for its scope', async () => {
        const token = await made({
          name: 'ro',
          permissions: ['tenant.apiKey:read'],
          credits: { remaining: 1 },
        });
        const refused = await http()
          .post(BASE)
          .set('X-API-Key', token)
          .send({ name: 'x' })
          .expect(403);
        expect(refused.body.code).toBe('INSUFFICIENT_PERMISSIONS');
        expect((await get('ro')).body.credits.remaining).toBe(1);
      });
    });

    describe('the keys command', () => {
      it('creates a key with every policy flag', async () => {
        const { stdout } = await tenants.keys([
          'create',
          'acme',
          'cli-key',
          '--permissions',
          'orders:read',
          '--owner',
          'customer-7',
          '--rate-limit',
          '10/60',
          '--credits',
          '50',
          '--refill',
          '100/86400',
          '--allowed-ips',
          '10.0.0.0/8,::1',
          '--meta',
          '{"plan":"trial"}',
        ]);
        expect(stdout.trim().split('\n').pop()).toMatch(/^tak_/);
        expect((await get('cli-key').expect(200)).body).toMatchObject({
          owner: 'customer-7',
          rateLimit: { limit: 10, periodSeconds: 60 },
          credits: { remaining: 50, refill: { amount: 100, intervalSeconds: 86400 } },
          allowedIps: ['10.0.0.0/8', '::1'],
          meta: { plan: 'trial' },
        });
      });

      it('refuses a bad flag naming the field, and creates nothing', async () => {
        await expect(
          tenants.keys(['create', 'acme', 'bad', '--allowed-ips', '10.0.0.0/8,999.1.1.1']),
        ).rejects.toMatchObject({ stderr: expect.stringContaining('allowedIps[1]') });
        await expect(
          tenants.keys(['create', 'acme', 'bad', '--rate-limit', 'ten']),
        ).rejects.toMatchObject({ stderr: expect.stringContaining('--rate-limit') });
        await get('bad').expect(404);
      });

      it('exports the credits as they stand, and an import of that export keeps every field', async () => {
        const token = await made({ ...FULL, name: 'paid' });
        await verify(token).set('X-Forwarded-For', '10.0.0.1').expect(200);
        const { stdout } = await tenants.keys(['export', 'acme']);
        const exported = entriesOf(stdout).paid;
        const { owner, rateLimit, credits, allowedIps, meta } = FULL;
        const policies = { owner, rateLimit, credits, allowedIps, meta };
        expect(exported).toMatchObject({
          ...policies,
          credits: { ...FULL.credits, remaining: 499 },
        });
        const file = join(await mkdtemp(join(tmpdir(), 'export-')), 'security.yml');
        await writeFile(file, stdout);
        await tenants.keys(['import', 'beta', file]);
        const again = entriesOf((await tenants.keys(['export', 'beta'])).stdout).paid;
        expect(again).toMatchObject({ ...policies, credits: { ...FULL.credits, remaining: 499 } });
      });
    });
  },
);

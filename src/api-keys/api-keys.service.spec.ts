import {
  ConflictException,
  ForbiddenException,
  NotFoundException,
  PreconditionFailedException,
} from '@nestjs/common';
import type { Caller } from '../auth/principal';
import { OPERATOR as OPERATOR_PRINCIPAL } from '../auth/principal';
import { entityTagOf } from './api-key';
import { hashToken } from './api-key-token';
import { ApiKeysService } from './api-keys.service';
import { ManualClock } from '../common/clock';
import {
  MemoryApiKeysRepository,
  MemoryCreditLedger,
  MemoryStorage,
  MemoryUsageStore,
} from '../storage/memory/memory-storage';
import { InProcessRateLimits } from '../storage/rate-limit.store';
import { KeyRateLimiter } from './key-rate-limiter';
import { UsageBuffer } from './usage-buffer';

const caller = (...scopes: string[]): Caller => ({
  principal: { method: 'api-key', subject: 'caller', scopes, tenants: ['acme'] },
  requestId: 'req-1',
});
const OPERATOR: Caller = { principal: OPERATOR_PRINCIPAL, requestId: 'req-0' };

/** The service over the in-memory store (the contract suite holds it to the real ones). */
function serviceWith(clock: ManualClock) {
  const storage = new MemoryStorage(clock);
  storage.addTenant('acme');
  const repository = new MemoryApiKeysRepository(storage);
  const usage = new UsageBuffer(new MemoryUsageStore(storage), clock, { usageFlushSeconds: 60 });
  const credits = new MemoryCreditLedger(storage);
  const rateLimiter = new KeyRateLimiter(new InProcessRateLimits());
  return {
    repository,
    credits,
    service: new ApiKeysService(repository, clock, usage, rateLimiter, credits),
  };
}

describe('ApiKeysService', () => {
  let service: ApiKeysService;
  let repository: MemoryApiKeysRepository;

  beforeEach(() => {
    ({ service, repository } = serviceWith(new ManualClock()));
  });

  it('creates a key with defaults, stores only the hash, and returns the token once', async () => {
    const {
      view: { key },
      token,
    } = await service.create('acme', { name: 'k' }, OPERATOR);
    expect(key).toMatchObject({
      name: 'k',
      enabled: true,
      permissions: [],
      hash: hashToken(token),
    });
    expect(key.createdAt).toBe(key.updatedAt);
    const stored = await repository.exportText('acme');
    expect(stored).toContain(hashToken(token));
    expect(stored).not.toContain(token);
  });

  it('drops duplicate permissions, keeping the first order', async () => {
    const {
      view: { key },
    } = await service.create('acme', { name: 'k', permissions: ['b', 'a', 'b'] }, OPERATOR);
    expect(key.permissions).toEqual(['b', 'a']);
  });

  it('refuses a name that is taken', async () => {
    await service.create('acme', { name: 'k' }, OPERATOR);
    await expect(service.create('acme', { name: 'k' }, OPERATOR)).rejects.toBeInstanceOf(
      ConflictException,
    );
  });

  it('imports all or nothing: a taken name, hash or previous hash refuses the whole file', async () => {
    const { token } = await service.create('acme', { name: 'held' }, OPERATOR);
    await service.rotate('acme', 'held', { gracePeriodSeconds: 60 }, OPERATOR);
    const entry = (name: string, hash: string) =>
      `  - name: ${name}\n    enabled: true\n    permissions: []\n    hash: "${hash}"\n`;
    const fresh = entry('fresh', 'a'.repeat(64));
    const before = await repository.exportText('acme');
    for (const clash of [
      entry('held', 'b'.repeat(64)),
      entry('other', (await repository.findByName('acme', 'held'))?.hash ?? ''),
      entry('other', hashToken(token)),
    ]) {
      await expect(
        service.importKeys('acme', `apiKeys:\n${fresh}${clash}`, OPERATOR),
      ).rejects.toBeInstanceOf(ConflictException);
      expect(await repository.exportText('acme')).toBe(before);
    }
    await expect(service.importKeys('acme', `apiKeys:\n${fresh}`, OPERATOR)).resolves.toBe(1);
  });

  describe('grant rule', () => {
    it('refuses to create a key with permissions the caller does not hold', async () => {
      await expect(
        service.create('acme', { name: 'k', permissions: ['*'] }, caller('tenant.apiKey:write')),
      ).rejects.toBeInstanceOf(ForbiddenException);
      await expect(service.list('acme')).resolves.toEqual([]);
    });

    it('allows what the caller wildcard covers', async () => {
      await expect(
        service.create(
          'acme',
          { name: 'k', permissions: ['tenant.apiKey:read'] },
          caller('tenant.*'),
        ),
      ).resolves.toBeDefined();
    });

    it('judges the current, kept and given permissions on update, and on delete', async () => {
      await service.create('acme', { name: 'root', permissions: ['*'] }, OPERATOR);
      await expect(
        service.update('acme', 'root', { enabled: false }, caller('tenant.apiKey:*')),
      ).rejects.toBeInstanceOf(ForbiddenException);
      expect((await service.get('acme', 'root')).key.enabled).toBe(true);
      await expect(
        service.update(
          'acme',
          'root',
          { enabled: false, permissions: ['tenant.apiKey:read'] },
          caller('tenant.apiKey:*'),
        ),
      ).rejects.toBeInstanceOf(ForbiddenException);
      await expect(
        service.delete('acme', 'root', caller('tenant.apiKey:*')),
      ).rejects.toBeInstanceOf(ForbiddenException);
      expect((await service.get('acme', 'root')).key).toMatchObject({
        enabled: true,
        permissions: ['*'],
      });
    });
  });

  it('updates enabled and keeps permissions left out, name and hash', async () => {
    const {
      view: { key },
    } = await service.create('acme', { name: 'k', permissions: ['a'] }, OPERATOR);
    const { key: updated } = await service.update('acme', 'k', { enabled: false }, OPERATOR);
    expect(updated).toMatchObject({
      name: 'k',
      enabled: false,
      permissions: ['a'],
      hash: key.hash,
    });
    expect(updated.createdAt).toBe(key.createdAt);
  });

  it('answers not found for a missing or impossible key name', async () => {
    await expect(service.get('acme', 'nope')).rejects.toBeInstanceOf(NotFoundException);
    await expect(service.get('acme', 'a/b')).rejects.toBeInstanceOf(NotFoundException);
    await expect(
      service.update('acme', 'nope', { enabled: true }, OPERATOR),
    ).rejects.toBeInstanceOf(NotFoundException);
    await expect(service.delete('acme', 'nope', OPERATOR)).rejects.toBeInstanceOf(
      NotFoundException,
    );
  });

  it('honours If-Match: 412 when the key changed since, 404 when it is gone', async () => {
    const {
      view: { key },
    } = await service.create('acme', { name: 'k' }, OPERATOR);
    const tag = entityTagOf(key);
    const { key: updated } = await service.update('acme', 'k', { enabled: false }, OPERATOR, [tag]);
    expect(entityTagOf(updated)).not.toBe(tag);
    await expect(
      service.update('acme', 'k', { enabled: true }, OPERATOR, [tag]),
    ).rejects.toBeInstanceOf(PreconditionFailedException);
    await expect(service.delete('acme', 'k', OPERATOR, [tag])).rejects.toBeInstanceOf(
      PreconditionFailedException,
    );
    await service.delete('acme', 'k', OPERATOR, ['"other"', entityTagOf(updated)]);
    await expect(service.delete('acme', 'k', OPERATOR, '*')).rejects.toBeInstanceOf(
      NotFoundException,
    );
  });

  it('deletes a key', async () => {
    await service.create('acme', { name: 'k' }, OPERATOR);
    await service.delete('acme', 'k', OPERATOR);
    await expect(service.list('acme')).resolves.toEqual([]);
  });
});

describe('ApiKeysService: expiry, rotation, hints and last use (an injected clock)', () => {
  let service: ApiKeysService;
  let repository: MemoryApiKeysRepository;
  let clock: ManualClock;
  const NOW = '2026-11-30T00:00:00.000Z';

  beforeEach(() => {
    clock = new ManualClock(Date.parse(NOW));
    ({ service, repository } = serviceWith(clock));
  });

  const refusal = (token: string) =>
    service.verify('acme', token).then(
      () => undefined,
      (error: { code?: string }) => error.code,
    );

  it('refuses a key from the instant it expires, and an expiry that is not in the future', async () => {
    const { token } = await service.create(
      'acme',
      { name: 'k', expiresAt: '2026-11-30T00:00:10Z' },
      OPERATOR,
    );
    clock.set('2026-11-30T00:00:09.999Z');
    await expect(refusal(token)).resolves.toBeUndefined();
    clock.set('2026-11-30T00:00:10.000Z');
    await expect(refusal(token)).resolves.toBe('EXPIRED');
    await expect(
      service.create('acme', { name: 'past', expiresAt: '2026-11-30T00:00:10Z' }, OPERATOR),
    ).rejects.toMatchObject({ errors: [{ field: 'expiresAt' }] });
  });

  it('keeps, sets and removes the expiry on update', async () => {
    await service.create('acme', { name: 'k', expiresAt: '2027-01-01T00:00:00Z' }, OPERATOR);
    const kept = await service.update('acme', 'k', { enabled: true }, OPERATOR);
    expect(kept.key.expiresAt).toBe('2027-01-01T00:00:00.000Z');
    const moved = await service.update(
      'acme',
      'k',
      { enabled: true, expiresAt: '2027-06-01T00:00:00+02:00' },
      OPERATOR,
    );
    expect(moved.key.expiresAt).toBe('2027-05-31T22:00:00.000Z');
    const removed = await service.update('acme', 'k', { enabled: true, expiresAt: null }, OPERATOR);
    expect(removed.key.expiresAt).toBeUndefined();
    expect(await repository.exportText('acme')).not.toContain('expiresAt');
  });

  it('rotates: the new token at once, the old one for the grace period only, with a new hint', async () => {
    const { token: first, view } = await service.create('acme', { name: 'k' }, OPERATOR);
    expect(view.key.hint).toBe(`${first.slice(0, 8)}...${first.slice(-4)}`);
    const { token: second, view: rotated } = await service.rotate(
      'acme',
      'k',
      { gracePeriodSeconds: 60 },
      OPERATOR,
    );
    expect(rotated.key.hint).toBe(`${second.slice(0, 8)}...${second.slice(-4)}`);
    expect(rotated.previousTokenExpiresAt).toBe('2026-11-30T00:01:00.000Z');
    await expect(refusal(second)).resolves.toBeUndefined();
    clock.advance(59_999);
    await expect(refusal(first)).resolves.toBeUndefined();
    clock.advance(1);
    await expect(refusal(first)).resolves.toBe('NOT_FOUND');
    expect((await service.get('acme', 'k')).previousTokenExpiresAt).toBeUndefined();
  });

  it('keeps only the token the last rotation replaced, and none with no grace period', async () => {
    const { token: first } = await service.create('acme', { name: 'k' }, OPERATOR);
    const { token: second } = await service.rotate(
      'acme',
      'k',
      { gracePeriodSeconds: 600 },
      OPERATOR,
    );
    const { token: third } = await service.rotate(
      'acme',
      'k',
      { gracePeriodSeconds: 600 },
      OPERATOR,
    );
    await expect(refusal(first)).resolves.toBe('NOT_FOUND');
    await expect(refusal(second)).resolves.toBeUndefined();
    await service.rotate('acme', 'k', {}, OPERATOR);
    await expect(refusal(third)).resolves.toBe('NOT_FOUND');
  });

  it('refuses to rotate a key whose permissions exceed the caller', async () => {
    await service.create('acme', { name: 'root', permissions: ['*'] }, OPERATOR);
    await expect(
      service.rotate('acme', 'root', {}, caller('tenant.apiKey:write')),
    ).rejects.toBeInstanceOf(ForbiddenException);
  });

  it('drops a previous hash whose grace is over at the next write of the tenant', async () => {
    await service.create('acme', { name: 'k' }, OPERATOR);
    await service.rotate('acme', 'k', { gracePeriodSeconds: 1 }, OPERATOR);
    expect(await repository.exportText('acme')).toContain('previousHash');
    clock.advance(1000);
    await service.create('acme', { name: 'other' }, OPERATOR);
    expect(await repository.exportText('acme')).not.toContain('previousHash');
  });

  it('records uses in memory, shows them, and forgets them when the key is deleted', async () => {
    const { token } = await service.create('acme', { name: 'k' }, OPERATOR);
    expect((await service.get('acme', 'k')).lastUsedAt).toBeUndefined();
    clock.set('2026-11-30T00:05:00.000Z');
    await service.verify('acme', token);
    expect((await service.get('acme', 'k')).lastUsedAt).toBe('2026-11-30T00:05:00.000Z');
    await service.delete('acme', 'k', OPERATOR);
    await service.create('acme', { name: 'k' }, OPERATOR);
    expect((await service.get('acme', 'k')).lastUsedAt).toBeUndefined();
  });
});

describe('ApiKeysService: the policies of a key at verification (an injected clock)', () => {
  let service: ApiKeysService;
  let clock: ManualClock;
  const INSIDE = { client: '10.1.2.3', scopes: ['orders:read'] };

  beforeEach(() => {
    clock = new ManualClock(Date.parse('2026-11-30T00:00:00.000Z'));
    ({ service } = serviceWith(clock));
  });

  const outcome = (token: string, presented: object = INSIDE) =>
    service.verify('acme', token, presented).then(
      (verified) => verified,
      (error: { code?: string }) => error.code,
    );
  const remaining = async (name: string) => (await service.get('acme', name)).creditsRemaining;

  it('checks exists, enabled, expiry, address, scopes, rate limit, then credits, in that order', async () => {
    const { token } = await service.create(
      'acme',
      {
        name: 'k',
        permissions: ['orders:read'],
        allowedIps: ['10.0.0.0/8'],
        rateLimit: { limit: 1, periodSeconds: 60 },
        credits: { remaining: 1 },
      },
      OPERATOR,
    );
    // A scope missing and an address outside: the address is named first.
    await expect(outcome(token, { client: '192.0.2.1', scopes: ['billing:write'] })).resolves.toBe(
      'IP_NOT_ALLOWED',
    );
    await expect(outcome(token, { ...INSIDE, scopes: ['billing:write'] })).resolves.toBe(
      'INSUFFICIENT_PERMISSIONS',
    );
    // Neither refusal counted toward the rate limit nor spent the credit.
    await expect(outcome(token)).resolves.toMatchObject({
      creditsRemaining: 0,
      rateLimit: { limit: 1, remaining: 0 },
    });
    // Past the rate limit: RATE_LIMITED, before the credits are looked at.
    await expect(outcome(token)).resolves.toBe('RATE_LIMITED');
    await service.update('acme', 'k', { enabled: true, rateLimit: null }, OPERATOR);
    await expect(outcome(token)).resolves.toBe('USAGE_EXCEEDED');
    await service.update('acme', 'k', { enabled: false }, OPERATOR);
    await expect(outcome(token)).resolves.toBe('DISABLED');
  });

  it('spends no credit on a rate-limited verification', async () => {
    const { token } = await service.create(
      'acme',
      { name: 'k', rateLimit: { limit: 2, periodSeconds: 60 }, credits: { remaining: 10 } },
      OPERATOR,
    );
    for (let i = 0; i < 5; i++) await outcome(token, {});
    expect(await remaining('k')).toBe(8);
  });

  it('spends the cost asked, checks without spending at 0, and refuses a cost beyond what is left', async () => {
    const { token } = await service.create(
      'acme',
      { name: 'k', credits: { remaining: 5 } },
      OPERATOR,
    );
    await expect(outcome(token, { cost: 3 })).resolves.toMatchObject({ creditsRemaining: 2 });
    await expect(outcome(token, { cost: 0 })).resolves.toMatchObject({ creditsRemaining: 2 });
    await expect(outcome(token, { cost: 3 })).resolves.toBe('USAGE_EXCEEDED');
    expect(await remaining('k')).toBe(2);
    await outcome(token, { cost: 2 });
    await expect(outcome(token, { cost: 0 })).resolves.toBe('USAGE_EXCEEDED');
  });

  it('grants the credits an update sets from then, even the same number as before', async () => {
    const { token } = await service.create(
      'acme',
      { name: 'k', credits: { remaining: 2 } },
      OPERATOR,
    );
    await outcome(token, {});
    await outcome(token, {});
    await expect(outcome(token, {})).resolves.toBe('USAGE_EXCEEDED');
    await service.update('acme', 'k', { enabled: true, permissions: [] }, OPERATOR);
    await expect(outcome(token, {})).resolves.toBe('USAGE_EXCEEDED'); // an update without credits spends nothing back
    await service.update('acme', 'k', { enabled: true, credits: { remaining: 2 } }, OPERATOR);
    expect(await remaining('k')).toBe(2);
    await expect(outcome(token, {})).resolves.toMatchObject({ creditsRemaining: 1 });
  });

  it('refills at each interval boundary, counted from when the credits were granted', async () => {
    clock.set('2026-11-30T23:00:00.000Z');
    const { token } = await service.create(
      'acme',
      { name: 'k', credits: { remaining: 1, refill: { amount: 3, intervalSeconds: 86400 } } },
      OPERATOR,
    );
    await outcome(token, {});
    await expect(outcome(token, {})).resolves.toBe('USAGE_EXCEEDED');
    clock.set('2026-12-01T00:00:00.000Z');
    expect(await remaining('k')).toBe(3);
    await expect(outcome(token, {})).resolves.toMatchObject({ creditsRemaining: 2 });
    clock.set('2026-12-05T10:00:00.000Z');
    await expect(outcome(token, {})).resolves.toMatchObject({ creditsRemaining: 2 });
  });

  it('lists one owner’s keys, and shows the policy fields it stored', async () => {
    await service.create('acme', { name: 'a', owner: 'alice', meta: { plan: 'pro' } }, OPERATOR);
    await service.create('acme', { name: 'b', owner: 'bob' }, OPERATOR);
    await service.create('acme', { name: 'c' }, OPERATOR);
    expect((await service.list('acme', { owner: 'alice' })).map((v) => v.key.name)).toEqual(['a']);
    expect((await service.list('acme')).map((v) => v.key.name)).toEqual(['a', 'b', 'c']);
    expect((await service.get('acme', 'a')).key.meta).toEqual({ plan: 'pro' });
  });

  it('audits the policy fields that change, never what is spent', async () => {
    const storage = new MemoryStorage(clock);
    storage.addTenant('acme');
    const repository = new MemoryApiKeysRepository(storage);
    const usage = new UsageBuffer(new MemoryUsageStore(storage), clock, { usageFlushSeconds: 60 });
    const audited = new ApiKeysService(
      repository,
      clock,
      usage,
      new KeyRateLimiter(new InProcessRateLimits()),
      new MemoryCreditLedger(storage),
    );
    const { token } = await audited.create(
      'acme',
      { name: 'k', credits: { remaining: 3 } },
      OPERATOR,
    );
    await audited.verify('acme', token);
    await audited.update(
      'acme',
      'k',
      { enabled: true, owner: 'alice', rateLimit: { limit: 5, periodSeconds: 1 }, credits: null },
      OPERATOR,
    );
    const lines = storage
      .tenant('acme')
      .audit.trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.action)).toEqual(['create', 'update']);
    expect(lines[0].changes.credits).toEqual({ from: null, to: { remaining: 3 } });
    expect(lines[1].changes).toEqual({
      owner: { from: null, to: 'alice' },
      rateLimit: { from: null, to: { limit: 5, periodSeconds: 1 } },
      credits: { from: { remaining: 3 }, to: null },
    });
  });
});

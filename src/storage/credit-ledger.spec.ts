import type { ApiKey } from './api-key.record';
import { balanceOf, type CreditGrant, grantOf, periodOf, spendFrom } from './credit-ledger';

const DAY = 86_400_000;
const NOW = Date.parse('2027-01-31T12:00:00.000Z');
const key = (fields: Partial<ApiKey> = {}): ApiKey => ({
  name: 'k',
  enabled: true,
  permissions: [],
  hash: 'h'.repeat(64),
  createdAt: '2027-01-01T00:00:00.000Z',
  credits: { remaining: 5 },
  ...fields,
});
const grant = (fields: Partial<ApiKey> = {}) => grantOf(key(fields)) as CreditGrant;

describe('credit grants and balances', () => {
  it('has no grant for a key without credits', () => {
    expect(grantOf(key({ credits: undefined }))).toBeUndefined();
  });

  it('tells grants apart by the key, the credits granted and the refill interval, not the refill amount', () => {
    const base = grant();
    expect(grant().id).toBe(base.id);
    expect(grant({ credits: { remaining: 6 } }).id).not.toBe(base.id);
    expect(grant({ createdAt: '2027-01-02T00:00:00.000Z' }).id).not.toBe(base.id);
    const daily = grant({
      credits: { remaining: 5, refill: { amount: 10, intervalSeconds: 86400 } },
    });
    expect(daily.id).not.toBe(base.id);
    expect(
      grant({ credits: { remaining: 5, refill: { amount: 99, intervalSeconds: 86400 } } }).id,
    ).toBe(daily.id);
  });

  it('counts refill periods from the Unix epoch, so every replica agrees on them', () => {
    const daily = { remaining: 1, refill: { amount: 1, intervalSeconds: 86400 } };
    expect(periodOf(daily, Date.parse('2027-01-31T00:00:00.000Z'))).toBe(
      Date.parse('2027-01-31T00:00:00.000Z') / DAY,
    );
    expect(periodOf(daily, Date.parse('2027-01-31T23:59:59.999Z'))).toBe(
      periodOf(daily, Date.parse('2027-01-31T00:00:00.000Z')),
    );
    expect(periodOf({ remaining: 1 }, NOW)).toBe(0);
  });

  it('starts a grant with its whole remaining, and keeps a balance of the same grant', () => {
    const g = grant();
    expect(balanceOf(g, undefined, NOW)).toEqual({ grant: g.id, period: 0, remaining: 5 });
    expect(balanceOf(g, { grant: g.id, period: 0, remaining: 2 }, NOW).remaining).toBe(2);
  });

  it('ignores a balance of another grant: a new grant starts afresh', () => {
    expect(balanceOf(grant(), { grant: 'older', period: 0, remaining: 0 }, NOW).remaining).toBe(5);
  });

  it('refills to the amount once a new period has begun, and not before', () => {
    const g = grant({ credits: { remaining: 5, refill: { amount: 100, intervalSeconds: 86400 } } });
    const today = periodOf(g.credits, NOW);
    expect(balanceOf(g, { grant: g.id, period: today, remaining: 1 }, NOW).remaining).toBe(1);
    expect(balanceOf(g, { grant: g.id, period: today - 1, remaining: 1 }, NOW)).toEqual({
      grant: g.id,
      period: today,
      remaining: 100,
    });
  });

  it('spends what is there, refuses more than is left, and spends nothing when refused', () => {
    const g = grant();
    const stored = { grant: g.id, period: 0, remaining: 3 };
    expect(spendFrom(g, stored, 3, NOW)).toEqual({
      balance: { ...stored, remaining: 0 },
      granted: true,
    });
    expect(spendFrom(g, stored, 4, NOW)).toEqual({ balance: stored, granted: false });
  });

  it('grants a cost of 0 while a credit is left, spending nothing, and refuses it at 0', () => {
    const g = grant();
    expect(spendFrom(g, { grant: g.id, period: 0, remaining: 1 }, 0, NOW)).toEqual({
      balance: { grant: g.id, period: 0, remaining: 1 },
      granted: true,
    });
    expect(spendFrom(g, { grant: g.id, period: 0, remaining: 0 }, 0, NOW).granted).toBe(false);
  });
});

import {
  allowedIpsProblem,
  creditsProblem,
  MAX_META_BYTES,
  metaProblem,
  ownerProblem,
  rateLimitProblem,
} from './key-policies';

describe('the checks of the policy fields', () => {
  it('accepts what the API documents', () => {
    expect(rateLimitProblem({ limit: 1, periodSeconds: 86400 })).toBeUndefined();
    expect(creditsProblem({ remaining: 0 })).toBeUndefined();
    expect(
      creditsProblem({ remaining: 5, refill: { amount: 1, intervalSeconds: 60 } }),
    ).toBeUndefined();
    expect(allowedIpsProblem([])).toBeUndefined();
    expect(allowedIpsProblem(['10.0.0.0/8', '::1'])).toBeUndefined();
    expect(metaProblem({ plan: 'pro', tags: ['a'], nested: { a: { b: 1 } } })).toBeUndefined();
    expect(ownerProblem('customer-42')).toBeUndefined();
  });

  it.each([
    [{ limit: 0, periodSeconds: 60 }, 'rateLimit.limit must be an integer from 1'],
    [{ limit: 1.5, periodSeconds: 60 }, 'rateLimit.limit must be an integer'],
    [{ limit: '5', periodSeconds: 60 }, 'rateLimit.limit must be an integer'],
    [
      { limit: 5, periodSeconds: 86401 },
      'rateLimit.periodSeconds must be an integer from 1 to 86400',
    ],
    [{ limit: 5 }, 'rateLimit.periodSeconds must be'],
    [{ limit: 5, periodSeconds: 1, burst: 2 }, 'rateLimit.burst is not a known field'],
    [[5, 60], 'rateLimit must be an object'],
  ])('refuses the rate limit %j, naming the field', (value, message) => {
    expect(rateLimitProblem(value)).toContain(message);
  });

  it.each([
    [{ remaining: -1 }, 'credits.remaining must be an integer from 0'],
    [{}, 'credits.remaining must be'],
    [{ remaining: 1, refill: { amount: 0, intervalSeconds: 60 } }, 'credits.refill.amount'],
    [
      { remaining: 1, refill: { amount: 1, intervalSeconds: 59 } },
      'credits.refill.intervalSeconds',
    ],
    [{ remaining: 1, refill: null }, 'credits.refill must be an object'],
    [{ remaining: 1, spent: 0 }, 'credits.spent is not a known field'],
  ])('refuses the credits %j, naming the field', (value, message) => {
    expect(creditsProblem(value)).toContain(message);
  });

  it('names the first bad entry of an allow-list, and its limit', () => {
    expect(allowedIpsProblem(['10.0.0.0/8', '10.0.0.300', 'x'])).toMatch(/^allowedIps\[1\] /);
    expect(allowedIpsProblem(['::1', 7])).toMatch(/^allowedIps\[1\] /);
    expect(allowedIpsProblem(Array(65).fill('::1'))).toContain('at most 64');
    expect(allowedIpsProblem('10.0.0.0/8')).toContain('must be an array');
  });

  it('holds meta to an object of at most 4 KB and 4 levels of JSON', () => {
    expect(metaProblem(['a'])).toContain('must be a JSON object');
    expect(metaProblem({ a: { b: { c: { d: 1 } } } })).toBeUndefined();
    expect(metaProblem({ a: { b: { c: { d: {} } } } })).toContain('at most 4 deep');
    expect(metaProblem({ a: [[[[1]]]] })).toContain('at most 4 deep');
    expect(metaProblem({ text: 'x'.repeat(MAX_META_BYTES) })).toContain(`${MAX_META_BYTES} bytes`);
    expect(metaProblem({ when: Infinity })).toContain('JSON values only');
  });

  it('holds an owner to the characters of a name', () => {
    expect(ownerProblem('a b')).toContain('owner must be 1 to 128 characters');
    expect(ownerProblem('')).toBeDefined();
    expect(ownerProblem(42)).toBeDefined();
  });
});

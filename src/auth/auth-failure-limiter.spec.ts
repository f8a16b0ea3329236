import { AuthFailureLimiter } from './auth-failure-limiter';

describe('AuthFailureLimiter', () => {
  let now = 0;
  const limiter = () => new AuthFailureLimiter({ failureLimit: 3, failureWindowSeconds: 60 });
  const fail = async (l: AuthFailureLimiter, address: string) => {
    const retry = await l.admit(address);
    if (retry === undefined) l.settle(address, true);
    return retry;
  };

  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('refuses an address after the limit until its window ends, then forgives it', async () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) expect(await fail(l, '1.2.3.4')).toBeUndefined();
    expect(await l.admit('1.2.3.4')).toBe(60);
    expect(l.blockedFor('1.2.3.4')).toBe(60);
    now += 45_500;
    expect(await l.admit('1.2.3.4')).toBe(15);
    now += 14_500;
    expect(l.blockedFor('1.2.3.4')).toBeUndefined();
    expect(await l.admit('1.2.3.4')).toBeUndefined();
  });

  it('checks no more concurrent guesses than the limit, however many arrive at once', async () => {
    const l = limiter();
    let checked = 0;
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const retry = await l.admit('a');
        if (retry !== undefined) return retry;
        checked++;
        await new Promise((resolve) => setImmediate(resolve));
        l.settle('a', true);
        return undefined;
      }),
    );
    expect(checked).toBe(3);
    expect(outcomes.filter((retry) => retry !== undefined)).toHaveLength(197);
  });

  it('lets any number of concurrent callers that authenticate through', async () => {
    const l = limiter();
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const retry = await l.admit('a');
        await new Promise((resolve) => setImmediate(resolve));
        if (retry === undefined) l.settle('a', false);
        return retry;
      }),
    );
    expect(outcomes.every((retry) => retry === undefined)).toBe(true);
  });

  it('counts each address on its own', async () => {
    const l = limiter();
    for (let i = 0; i < 5; i++) await fail(l, 'a');
    expect(await l.admit('a')).toBeGreaterThan(0);
    expect(await l.admit('b')).toBeUndefined();
  });
});

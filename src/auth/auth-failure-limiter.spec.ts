import { AuthFailureLimiter } from './auth-failure-limiter';

describe('AuthFailureLimiter', () => {
  let now = 0;
  const limiter = () => new AuthFailureLimiter({ failureLimit: 3, failureWindowSeconds: 60 });

  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('refuses an address after the limit until its window ends, then forgives it', () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfter('1.2.3.4')).toBeUndefined();
      l.recordFailure('1.2.3.4');
    }
    expect(l.retryAfter('1.2.3.4')).toBe(60);
    now += 45_500;
    expect(l.retryAfter('1.2.3.4')).toBe(15);
    now += 14_500;
    expect(l.retryAfter('1.2.3.4')).toBeUndefined();
    l.recordFailure('1.2.3.4');
    expect(l.retryAfter('1.2.3.4')).toBeUndefined();
  });

  it('counts each address on its own', () => {
    const l = limiter();
    for (let i = 0; i < 5; i++) l.recordFailure('a');
    expect(l.retryAfter('a')).toBeGreaterThan(0);
    expect(l.retryAfter('b')).toBeUndefined();
  });
});

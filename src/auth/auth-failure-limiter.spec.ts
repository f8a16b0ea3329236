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
    for (let i = 0; i < 3; i++) expect(l.admit('1.2.3.4')).toBeUndefined();
    expect(l.admit('1.2.3.4')).toBe(60);
    now += 45_500;
    expect(l.admit('1.2.3.4')).toBe(15);
    now += 14_500;
    expect(l.admit('1.2.3.4')).toBeUndefined();
  });

  it('admits no more concurrent attempts than the limit, however many arrive at once', () => {
    const l = limiter();
    const admitted = Array.from({ length: 200 }, () => l.admit('a')).filter(
      (retry) => retry === undefined,
    );
    expect(admitted).toHaveLength(3);
  });

  it('gives back the count of an attempt that authenticated', () => {
    const l = limiter();
    for (let i = 0; i < 10; i++) {
      expect(l.admit('a')).toBeUndefined();
      l.succeeded('a');
    }
  });

  it('counts each address on its own', () => {
    const l = limiter();
    for (let i = 0; i < 5; i++) l.admit('a');
    expect(l.admit('a')).toBeGreaterThan(0);
    expect(l.admit('b')).toBeUndefined();
  });
});

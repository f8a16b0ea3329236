import { grants, hasScope, uncovered } from './scope-matching';

describe('scope matching', () => {
  it.each([
    ['*', 'tenant.apiKey:read', true],
    ['tenant.apiKey:read', 'tenant.apiKey:read', true],
    ['tenant.apiKey:*', 'tenant.apiKey:read', true],
    ['tenant.*', 'tenant.apiKey:write', true],
    ['tenant.apiKey:read', 'tenant.apiKey:write', false],
    ['tenant.apiKey', 'tenant.apiKey:read', false],
    ['tenant.apiKey:read*', 'tenant.apiKey:read', true],
    ['tenant.apiKey:reader', 'tenant.apiKey:read', false],
    ['tenant.apiKey:re', 'tenant.apiKey:read', false],
    ['*.apiKey:read', 'tenant.apiKey:read', false],
    ['tenant.*.read', 'tenant.apiKey.read', false],
    ['TENANT.apiKey:read', 'tenant.apiKey:read', false],
    ['other.*', 'tenant.apiKey:read', false],
  ])('%s grants %s: %s', (permission, scope, expected) => {
    expect(grants(permission, scope)).toBe(expected);
  });

  it('matches by rule, never by substring', () => {
    expect(hasScope(['xtenant.apiKey:readx'], 'tenant.apiKey:read')).toBe(false);
    expect(hasScope([], 'tenant.apiKey:read')).toBe(false);
    expect(hasScope(['a', 'tenant.apiKey:read'], 'tenant.apiKey:read')).toBe(true);
  });

  describe('the grant rule (uncovered)', () => {
    it('covers what a wildcard grants and nothing wider', () => {
      expect(uncovered(['tenant.*'], ['tenant.apiKey:*', 'tenant.apiKey:read'])).toEqual([]);
      expect(uncovered(['tenant.apiKey:*'], ['tenant.*', '*'])).toEqual(['tenant.*', '*']);
      expect(uncovered(['tenant.apiKey:read'], ['tenant.apiKey:*'])).toEqual(['tenant.apiKey:*']);
    });

    it('lets * grant anything and nothing grant more than held', () => {
      expect(uncovered(['*'], ['*', 'x', 'tenant.*'])).toEqual([]);
      expect(uncovered(['tenant.apiKey:write'], ['tenant.apiKey:read'])).toEqual([
        'tenant.apiKey:read',
      ]);
      expect(uncovered([], [])).toEqual([]);
    });
  });
});

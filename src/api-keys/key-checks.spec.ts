import type { ApiKey } from '../storage/api-key.record';
import { firstRefusal, KeyRefusedError } from './key-checks';

const NOW = Date.parse('2027-01-31T00:00:00.000Z');
const key = (fields: Partial<ApiKey> = {}): ApiKey => ({
  name: 'k',
  enabled: true,
  permissions: ['orders:read'],
  hash: 'current',
  ...fields,
});
const failing: Partial<ApiKey> = {
  enabled: false,
  expiresAt: '2020-01-01T00:00:00.000Z',
  allowedIps: ['10.0.0.0/8'],
};
const from = { client: '192.0.2.1', scopes: ['billing:write'] };

describe('the checks a presented key goes through, in order', () => {
  it('passes a key that passes each of them', () => {
    expect(
      firstRefusal(key({ allowedIps: ['10.0.0.0/8'] }), 'current', NOW, {
        client: '10.1.1.1',
        scopes: ['orders:read'],
      }),
    ).toBeUndefined();
  });

  it('first: the key exists (an unknown token is NOT_FOUND whatever else is wrong)', () => {
    expect(firstRefusal(undefined, 'current', NOW, from)).toEqual({ code: 'NOT_FOUND' });
    expect(firstRefusal(key(failing), 'other', NOW, from)).toEqual({ code: 'NOT_FOUND' });
  });

  it('then: it is enabled', () => {
    expect(firstRefusal(key(failing), 'current', NOW, from)).toEqual({ code: 'DISABLED' });
  });

  it('then: it has not expired', () => {
    expect(firstRefusal(key({ ...failing, enabled: true }), 'current', NOW, from)).toEqual({
      code: 'EXPIRED',
    });
  });

  it('then: the client address is allowed', () => {
    const allowedOnlyInside = key({ allowedIps: ['10.0.0.0/8'] });
    expect(firstRefusal(allowedOnlyInside, 'current', NOW, from)).toEqual({
      code: 'IP_NOT_ALLOWED',
    });
    // No address at all (a client Express could not name) is not in any list.
    expect(firstRefusal(allowedOnlyInside, 'current', NOW, { scopes: [] })).toEqual({
      code: 'IP_NOT_ALLOWED',
    });
  });

  it('then: the scopes, naming those missing', () => {
    expect(firstRefusal(key(), 'current', NOW, from)).toEqual({
      code: 'INSUFFICIENT_PERMISSIONS',
      missing: ['billing:write'],
    });
  });

  it('lets any address present a key with no list, or an empty one', () => {
    for (const allowedIps of [undefined, []]) {
      expect(
        firstRefusal(key({ allowedIps }), 'current', NOW, { client: '203.0.113.5' }),
      ).toBeUndefined();
    }
  });

  it('counts only unknown, disabled and expired keys as failed authentications', () => {
    const failed = (code: KeyRefusedError['code']) =>
      new KeyRefusedError(code).failedAuthentication;
    expect(['NOT_FOUND', 'DISABLED', 'EXPIRED'].map((c) => failed(c as never))).toEqual([
      true,
      true,
      true,
    ]);
    expect(
      ['IP_NOT_ALLOWED', 'INSUFFICIENT_PERMISSIONS', 'RATE_LIMITED', 'USAGE_EXCEEDED'].map((c) =>
        failed(c as never),
      ),
    ).toEqual([false, false, false, false]);
  });
});

import {
  type ApiKey,
  previousTokenValidUntil,
  withoutExpiredPreviousToken,
} from '../storage/api-key.record';
import { hintOf, refusalOf } from './key-lifecycle';

const T = Date.parse('2027-01-31T00:00:00.000Z');
const key = (fields: Partial<ApiKey> = {}): ApiKey => ({
  name: 'k',
  enabled: true,
  permissions: [],
  hash: 'current',
  ...fields,
});

describe('the key lifecycle rules', () => {
  it('lets a key authenticate until the instant it expires, and not from that instant on', () => {
    const expiring = key({ expiresAt: '2027-01-31T00:00:00.000Z' });
    expect(refusalOf(expiring, 'current', T - 1)).toBeUndefined();
    expect(refusalOf(expiring, 'current', T)).toBe('EXPIRED');
    expect(refusalOf(expiring, 'current', T + 1)).toBe('EXPIRED');
    expect(refusalOf(key(), 'current', T * 2)).toBeUndefined();
  });

  it('reads an expiry written with a time zone offset as the instant it names', () => {
    const expiring = key({ expiresAt: '2027-01-31T01:00:00+01:00' });
    expect(refusalOf(expiring, 'current', T - 1)).toBeUndefined();
    expect(refusalOf(expiring, 'current', T)).toBe('EXPIRED');
  });

  it('accepts the replaced token for the grace period and not a millisecond longer', () => {
    const rotated = key({ previousHash: 'old', previousHashExpiresAt: '2027-01-31T00:00:00.000Z' });
    expect(refusalOf(rotated, 'old', T - 1)).toBeUndefined();
    expect(previousTokenValidUntil(rotated, T - 1)).toBe('2027-01-31T00:00:00.000Z');
    expect(refusalOf(rotated, 'old', T)).toBe('NOT_FOUND');
    expect(previousTokenValidUntil(rotated, T)).toBeUndefined();
    expect(refusalOf(rotated, 'current', T)).toBeUndefined();
  });

  it('gives the replaced token the key state: disabled or expired, it is refused as such', () => {
    const until = '2027-02-01T00:00:00.000Z';
    const disabled = key({ enabled: false, previousHash: 'old', previousHashExpiresAt: until });
    expect(refusalOf(disabled, 'old', T)).toBe('DISABLED');
    const expired = key({
      expiresAt: '2027-01-30T00:00:00.000Z',
      previousHash: 'old',
      previousHashExpiresAt: until,
    });
    expect(refusalOf(expired, 'old', T)).toBe('EXPIRED');
  });

  it('names a token no key answers to as not found, and a disabled key as disabled', () => {
    expect(refusalOf(undefined, 'x', T)).toBe('NOT_FOUND');
    expect(refusalOf(key(), 'other', T)).toBe('NOT_FOUND');
    expect(refusalOf(key({ enabled: false }), 'current', T)).toBe('DISABLED');
  });

  it('drops a previous token whose grace period is over, and only then', () => {
    const rotated = key({ previousHash: 'old', previousHashExpiresAt: '2027-01-31T00:00:00.000Z' });
    expect(withoutExpiredPreviousToken(rotated, T - 1)).toBe(rotated);
    expect(withoutExpiredPreviousToken(rotated, T)).toEqual(key());
  });

  it('hints at a token with its first 8 and last 4 characters', () => {
    expect(hintOf('tak_Ab3xYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY9QzK')).toBe(
      'tak_Ab3x...9QzK',
    );
  });
});

import { createHash } from 'node:crypto';
import { hashToken, mintToken, TOKEN_PREFIX } from './api-key-token';

describe('API key tokens', () => {
  it('carries the prefix and 256 bits in base64url', () => {
    const token = mintToken();
    expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
    const body = token.slice(TOKEN_PREFIX.length);
    expect(body).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(body, 'base64url')).toHaveLength(32);
  });

  it('never repeats', () => {
    const tokens = new Set(Array.from({ length: 10_000 }, mintToken));
    expect(tokens.size).toBe(10_000);
  });

  it('looks random: every base64url character appears across many tokens', () => {
    const seen = new Set(
      Array.from({ length: 200 }, () => mintToken().slice(TOKEN_PREFIX.length))
        .join('')
        .split(''),
    );
    expect(seen.size).toBe(64);
  });

  it('hashes to the lowercase hex SHA-256 of the whole token', () => {
    expect(hashToken('tak_abc')).toBe(createHash('sha256').update('tak_abc').digest('hex'));
    expect(hashToken('tak_abc')).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken('é')).toBe(
      createHash('sha256').update(Buffer.from('é', 'utf8')).digest('hex'),
    );
  });
});

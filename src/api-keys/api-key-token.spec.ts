import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  hashToken,
  hasValidChecksum,
  mintToken,
  TOKEN_PATTERN,
  TOKEN_PREFIX,
} from './api-key-token';

describe('API key tokens', () => {
  it('carries the prefix, 43 base62 characters (256 bits) and a 6-character checksum', () => {
    const token = mintToken();
    expect(token).toMatch(TOKEN_PATTERN);
    expect(token).toMatch(/^tak_[0-9A-Za-z]{49}$/);
    expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
  });

  it('ends in the CRC32 of the rest, in base62', () => {
    const token = mintToken();
    const crc = crc32(token.slice(0, -6));
    const decoded = [...token.slice(-6)].reduce(
      (n, c) =>
        n * 62 + '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.indexOf(c),
      0,
    );
    expect(decoded).toBe(crc);
    expect(hasValidChecksum(token)).toBe(true);
  });

  it('refuses a token of the current shape with one character changed', () => {
    const token = mintToken();
    for (const at of [4, 20, token.length - 1]) {
      const swapped = token[at] === 'a' ? 'b' : 'a';
      expect(hasValidChecksum(token.slice(0, at) + swapped + token.slice(at + 1))).toBe(false);
    }
  });

  it('leaves tokens of other shapes to the lookup', () => {
    expect(hasValidChecksum(`tak_${'A'.repeat(42)}-_`)).toBe(true); // minted before checksums
    expect(hasValidChecksum('hand-made-token')).toBe(true);
  });

  it('never repeats, and uses every base62 character', () => {
    const tokens = Array.from({ length: 5_000 }, mintToken);
    expect(new Set(tokens).size).toBe(5_000);
    const seen = new Set(tokens.map((t) => t.slice(4, -6)).join(''));
    expect(seen.size).toBe(62);
  });

  it('hashes to the lowercase hex SHA-256 of the whole token', () => {
    expect(hashToken('tak_abc')).toBe(createHash('sha256').update('tak_abc').digest('hex'));
    expect(hashToken('é')).toBe(
      createHash('sha256').update(Buffer.from('é', 'utf8')).digest('hex'),
    );
  });
});

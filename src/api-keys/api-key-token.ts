import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** Every token starts with this, so people and secret scanners can recognise one. */
export const TOKEN_PREFIX = 'tak_';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 43 base62 characters carry 256 bits (62^43 > 2^256). */
const RANDOM_LENGTH = 43;
/** CRC32 in base62, zero-padded: 62^6 > 2^32. */
const CHECKSUM_LENGTH = 6;
/** A token of the current shape; register this with secret scanners. */
export const TOKEN_PATTERN = new RegExp(
  `^${TOKEN_PREFIX}[0-9A-Za-z]{${RANDOM_LENGTH}}[0-9A-Za-z]{${CHECKSUM_LENGTH}}$`,
);

function base62(value: number, length: number): string {
  let text = '';
  for (let rest = value; rest > 0; rest = Math.floor(rest / 62)) text = BASE62[rest % 62] + text;
  return text.padStart(length, '0');
}

/** Uniform base62 characters from the CSPRNG: bytes of 248 and above are rejected (248 = 4 × 62). */
function randomBase62(length: number): string {
  let text = '';
  while (text.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && text.length < length) text += BASE62[byte % 62];
    }
  }
  return text;
}

function checksumOf(body: string): string {
  return base62(crc32(body), CHECKSUM_LENGTH);
}

/**
 * A new plaintext token: the prefix, 256 random bits in base62, and the CRC32 of all that in
 * base62 (as GitHub's tokens do), so a scanner can tell a real token from a look-alike offline.
 */
export function mintToken(): string {
  const body = TOKEN_PREFIX + randomBase62(RANDOM_LENGTH);
  return body + checksumOf(body);
}

/**
 * False only for a token of the current shape whose checksum does not match: a typo or a
 * forgery, refused before any lookup. Tokens of other shapes (minted before checksums, or
 * written by hand) are left to the lookup.
 */
export function hasValidChecksum(token: string): boolean {
  if (!TOKEN_PATTERN.test(token)) return true;
  const split = token.length - CHECKSUM_LENGTH;
  return checksumOf(token.slice(0, split)) === token.slice(split);
}

/** The stored form of a token: lowercase hex SHA-256 of its UTF-8 bytes. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

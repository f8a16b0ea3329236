import { createHash, randomBytes } from 'node:crypto';

/** Every token starts with this, so people and secret scanners can recognise one. */
export const TOKEN_PREFIX = 'tak_';
/** 32 random bytes: 256 bits from the operating system's CSPRNG. */
const TOKEN_BYTES = 32;

/** A new plaintext token: the prefix and 256 random bits in base64url. */
export function mintToken(): string {
  return TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
}

/** The stored form of a token: lowercase hex SHA-256 of its UTF-8 bytes. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

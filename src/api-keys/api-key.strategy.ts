import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { type CredentialStrategy, InvalidCredentialsError } from '../auth/credential-strategy';
import type { Principal } from '../auth/principal';
import { KeyRefusedError, refusalException } from './key-checks';
import { rateLimitHeaders } from './key-rate-limiter';
import { ApiKeysService } from './api-keys.service';

export const API_KEY_HEADER = 'x-api-key';
/** Longer than any token we mint or anyone would paste; refuses oversized input before hashing. */
const MAX_TOKEN_LENGTH = 512;
/** The `WWW-Authenticate` challenge of a 401 that an API key would answer. */
export const API_KEY_CHALLENGE = 'ApiKey header="X-API-Key"';

/** The API key a request presents in `X-API-Key`, if it presents exactly one of sane length. */
export function presentedToken(request: Request): string | undefined {
  const token = request.headers[API_KEY_HEADER];
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    return undefined;
  }
  return token;
}

/**
 * `X-API-Key: <token>`: valid for the tenant in the path only, through the one check every
 * authentication goes through (ApiKeysService.verify: enabled, not expired, grace periods, the
 * address, the scopes, the rate limit, the credits).
 */
@Injectable()
export class ApiKeyStrategy implements CredentialStrategy {
  readonly challenge = API_KEY_CHALLENGE;

  constructor(private readonly apiKeys: ApiKeysService) {}

  presentIn(request: Request): boolean {
    return request.headers[API_KEY_HEADER] !== undefined;
  }

  /**
   * The key, checked with the scopes the route requires, so that a refused request counts
   * toward no rate limit and spends no credit; each admin request is one use of the key.
   */
  async authenticate(
    request: Request,
    tenantId: string,
    scopes: readonly string[],
  ): Promise<Principal> {
    const token = presentedToken(request);
    try {
      if (token === undefined) throw new KeyRefusedError('NOT_FOUND');
      const { key, rateLimit } = await this.apiKeys.verify(tenantId, token, {
        client: request.ip,
        scopes,
      });
      if (rateLimit) request.res?.set(rateLimitHeaders(rateLimit));
      return { method: 'api-key', subject: key.name, scopes: key.permissions, tenants: [tenantId] };
    } catch (error) {
      if (!(error instanceof KeyRefusedError)) throw error;
      if (error.failedAuthentication) throw new InvalidCredentialsError(error.message);
      throw refusalException(error);
    }
  }
}

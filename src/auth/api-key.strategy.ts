import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { isTenantId } from '../api-keys/api-key';
import { hashToken, hasValidChecksum } from '../api-keys/api-key-token';
import { TenantNotFoundError } from '../api-keys/api-keys.errors';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { type CredentialStrategy, InvalidCredentialsError } from './credential-strategy';
import type { Principal } from './principal';

export const API_KEY_HEADER = 'x-api-key';
/** Longer than any token we mint or anyone would paste; refuses oversized input before hashing. */
const MAX_TOKEN_LENGTH = 512;

/** `X-API-Key: <token>`: valid for the tenant in the path only, when it holds an enabled key with that hash. */
@Injectable()
export class ApiKeyStrategy implements CredentialStrategy {
  readonly challenge = 'ApiKey header="X-API-Key"';

  constructor(private readonly repository: ApiKeysRepository) {}

  presentIn(request: Request): boolean {
    return request.headers[API_KEY_HEADER] !== undefined;
  }

  async authenticate(request: Request, tenantId: string): Promise<Principal> {
    const token = request.headers[API_KEY_HEADER];
    const rejected = () => new InvalidCredentialsError('the API key is not valid for this tenant');
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw rejected();
    }
    if (!isTenantId(tenantId) || !hasValidChecksum(token)) throw rejected();
    let key;
    try {
      key = await this.repository.findByHash(tenantId, hashToken(token));
    } catch (error) {
      if (error instanceof TenantNotFoundError) throw rejected();
      throw error;
    }
    if (!key?.enabled) throw rejected();
    return { method: 'api-key', subject: key.name, scopes: key.permissions, tenants: [tenantId] };
  }
}

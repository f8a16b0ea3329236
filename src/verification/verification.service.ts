import { HttpException, Injectable } from '@nestjs/common';
import { AuthFailureLimiter } from '../auth/auth-failure-limiter';
import { uncovered } from '../auth/scope-matching';
import {
  AuthenticationRequiredException,
  codeOf,
  InsufficientScopeException,
  TooManyFailuresException,
} from '../common/http-problems';
import { Metrics, type VerificationOutcome } from '../common/metrics';
import { API_KEY_CHALLENGE } from '../api-keys/api-key.strategy';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { KeyRefusedError } from '../api-keys/key-lifecycle';
import type { ApiKey } from '../storage/api-key.record';

/** What a gateway asks: may this token, presented by this client, call for these scopes? */
export interface VerificationRequest {
  readonly tenantId: string;
  /** The presented token; undefined when none (or none of sane length) was sent. */
  readonly token: string | undefined;
  readonly scopes: readonly string[];
  /** The client address failures are counted against. */
  readonly client: string;
}

/**
 * The gateway check: the same authentication as the admin API (ApiKeysService.verify: enabled,
 * not expired, grace periods, last use recorded), under the same failed-authentication limit
 * per client, then the required scopes under the same permission rule.
 */
@Injectable()
export class VerificationService {
  constructor(
    private readonly apiKeys: ApiKeysService,
    private readonly failures: AuthFailureLimiter,
    private readonly metrics: Metrics,
  ) {}

  /** The key, or 401 with the refusal's code, 403 INSUFFICIENT_PERMISSIONS, 429; each counted. */
  async verify(request: VerificationRequest): Promise<ApiKey> {
    try {
      const key = await this.check(request);
      this.metrics.verifications.inc({ outcome: 'valid' });
      return key;
    } catch (error) {
      const outcome: VerificationOutcome | undefined =
        error instanceof TooManyFailuresException
          ? 'THROTTLED'
          : error instanceof HttpException
            ? codeOf(error)
            : undefined;
      if (outcome) this.metrics.verifications.inc({ outcome });
      throw error;
    }
  }

  private async check({ tenantId, token, scopes, client }: VerificationRequest): Promise<ApiKey> {
    if (token === undefined) {
      this.failures.assertNotBlocked(client);
      throw new AuthenticationRequiredException(
        'an API key is required: send it in X-API-Key',
        [API_KEY_CHALLENGE],
        'NOT_FOUND',
      );
    }
    let key: ApiKey;
    try {
      key = await this.failures.check(
        client,
        () => this.apiKeys.verify(tenantId, token),
        (error) => error instanceof KeyRefusedError,
      );
    } catch (error) {
      if (!(error instanceof KeyRefusedError)) throw error;
      throw new AuthenticationRequiredException(error.message, [API_KEY_CHALLENGE], error.code);
    }
    const missing = uncovered(key.permissions, scopes);
    if (missing.length > 0) {
      throw new InsufficientScopeException(
        missing,
        false,
        `the API key does not grant the scope ${missing.join(' ')}`,
      );
    }
    return key;
  }
}

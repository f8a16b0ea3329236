import { HttpException, Injectable } from '@nestjs/common';
import { AuthFailureLimiter } from '../auth/auth-failure-limiter';
import {
  AuthenticationRequiredException,
  codeOf,
  TooManyFailuresException,
} from '../common/http-problems';
import { Metrics, type VerificationOutcome } from '../common/metrics';
import { API_KEY_CHALLENGE } from '../api-keys/api-key.strategy';
import { ApiKeysService, type VerifiedKey } from '../api-keys/api-keys.service';
import { KeyRefusedError, type Presentation, refusalException } from '../api-keys/key-checks';

/** What a gateway asks: may this token, presented by this client, call for these scopes? */
export interface VerificationRequest extends Presentation {
  readonly tenantId: string;
  /** The presented token; undefined when none (or none of sane length) was sent. */
  readonly token: string | undefined;
  readonly scopes: readonly string[];
  /** The client address: failures are counted against it, and a key may allow only some. */
  readonly client: string;
}

/**
 * The gateway check: the same check as the admin API's (ApiKeysService.verify: enabled, not
 * expired, grace periods, the address, the scopes under the same permission rule, the rate
 * limit, the credits, last use recorded), under the same failed-authentication limit per client.
 */
@Injectable()
export class VerificationService {
  constructor(
    private readonly apiKeys: ApiKeysService,
    private readonly failures: AuthFailureLimiter,
    private readonly metrics: Metrics,
  ) {}

  /**
   * The key that passed, or 401 with the refusal's code, 403 (IP_NOT_ALLOWED,
   * INSUFFICIENT_PERMISSIONS), 429 (RATE_LIMITED, USAGE_EXCEEDED, or too many failures); each
   * counted by outcome.
   */
  async verify(request: VerificationRequest): Promise<VerifiedKey> {
    try {
      const verified = await this.check(request);
      this.metrics.verifications.inc({ outcome: 'valid' });
      return verified;
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

  private async check(request: VerificationRequest): Promise<VerifiedKey> {
    const { tenantId, token, client } = request;
    if (token === undefined) {
      this.failures.assertNotBlocked(client);
      throw new AuthenticationRequiredException(
        'an API key is required: send it in X-API-Key',
        [API_KEY_CHALLENGE],
        'NOT_FOUND',
      );
    }
    try {
      return await this.failures.check(
        client,
        () => this.apiKeys.verify(tenantId, token, request),
        (error) => error instanceof KeyRefusedError && error.failedAuthentication,
      );
    } catch (error) {
      if (!(error instanceof KeyRefusedError)) throw error;
      if (!error.failedAuthentication) throw refusalException(error);
      throw new AuthenticationRequiredException(error.message, [API_KEY_CHALLENGE], error.code);
    }
  }
}

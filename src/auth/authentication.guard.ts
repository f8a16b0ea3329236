import {
  BadRequestException,
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AuthenticationRequiredException } from '../common/http-problems';
import { AuthFailureLimiter } from './auth-failure-limiter';
import {
  CREDENTIAL_STRATEGIES,
  type CredentialStrategy,
  InvalidCredentialsError,
} from './credential-strategy';
import { mayAdminister } from './principal';
import { Public, Scopes } from './scopes.decorator';

/**
 * Establishes who is calling, before any body is validated: exactly one credential, checked by
 * the strategy for its kind, for the tenant in the path. Credentials are only read from headers.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(CREDENTIAL_STRATEGIES) private readonly strategies: readonly CredentialStrategy[],
    private readonly failures: AuthFailureLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride(Public, targets)) return true;
    const request = context.switchToHttp().getRequest<Request>();
    const offered = this.strategies.filter((strategy) => strategy.presentIn(request));
    if (offered.length > 1) {
      throw new BadRequestException(
        'send one credential: either Authorization or X-API-Key, not both',
      );
    }
    // The address Express derives, honouring X-Forwarded-For only as TRUST_PROXY allows.
    const client = request.ip ?? 'unknown';
    if (offered.length === 0) {
      this.failures.assertNotBlocked(client);
      throw this.unauthorized(
        'credentials are required: send an X-API-Key header or a bearer token',
      );
    }
    // Admitted only while it cannot take the address past the limit, even if every attempt
    // being checked at the same time fails.
    const tenantId = typeof request.params.tenantId === 'string' ? request.params.tenantId : '';
    try {
      request.principal = await this.failures.check(
        client,
        () =>
          offered[0].authenticate(
            request,
            tenantId,
            this.reflector.getAllAndOverride(Scopes, targets) ?? [],
          ),
        (error) => error instanceof InvalidCredentialsError,
      );
    } catch (error) {
      if (!(error instanceof InvalidCredentialsError)) throw error;
      throw this.unauthorized(error.message, offered[0], error.challenge);
    }
    if (tenantId && !mayAdminister(request.principal, tenantId)) {
      throw new ForbiddenException(`these credentials are not valid for tenant "${tenantId}"`);
    }
    return true;
  }

  private unauthorized(
    detail: string,
    failed?: CredentialStrategy,
    challenge?: string,
  ): AuthenticationRequiredException {
    const challenges = this.strategies.map((strategy) =>
      strategy === failed && challenge ? challenge : strategy.challenge,
    );
    return new AuthenticationRequiredException(detail, challenges);
  }
}

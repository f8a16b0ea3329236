import { applyDecorators, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  ApiBadRequestResponse,
  ApiForbiddenResponse,
  ApiOAuth2,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { ProblemDto } from '../common/problem.dto';
import type { Caller } from './principal';

export const OAUTH2_SCHEME = 'oauth2';
export const API_KEY_SCHEME = 'api-key';

/** Scopes a route requires, all of them. Read by ScopesGuard. */
export const Scopes = Reflector.createDecorator<string[]>();

/** Marks a route that needs no credentials. Every other route must declare its scopes. */
export const Public = Reflector.createDecorator<void, true>({ transform: () => true });

/**
 * The one decorator a protected route needs: its scopes, and the matching OpenAPI security
 * requirements and 401/403 responses.
 */
export function RequireScopes(...scopes: string[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    Scopes(scopes),
    ApiOAuth2(scopes, OAUTH2_SCHEME),
    ApiSecurity(API_KEY_SCHEME),
    ApiBadRequestResponse({
      description: 'Both a bearer token and an API key were sent: send one credential.',
      type: ProblemDto,
    }),
    ApiUnauthorizedResponse({
      description: 'No credentials, or credentials that are not valid for this tenant.',
      type: ProblemDto,
    }),
    ApiTooManyRequestsResponse({
      description:
        'Too many failed authentications from this address (see Retry-After), or an API key past its rate limit (`code`: RATE_LIMITED, see Retry-After) or out of credits (USAGE_EXCEEDED).',
      type: ProblemDto,
    }),
    ApiServiceUnavailableResponse({
      description:
        'Shutting down, or another process held the tenant lock too long; see Retry-After.',
      type: ProblemDto,
    }),
    ApiForbiddenResponse({
      description: `The caller lacks ${scopes.join(' and ')}, is not allowed for this tenant, would grant more than it holds, or is an API key that may not be used from this address (\`code\`: IP_NOT_ALLOWED).`,
      type: ProblemDto,
    }),
  );
}

/** The authenticated caller of the current request, with the request's id. */
export const CurrentCaller = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Caller => {
    const request = context.switchToHttp().getRequest<Request>();
    if (!request.principal) throw new Error('CurrentCaller used on a route without authentication');
    const requestId = typeof request.id === 'string' ? request.id : '';
    return { principal: request.principal, requestId };
  },
);

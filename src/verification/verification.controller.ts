import { All, Controller, Get, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExcludeEndpoint,
  ApiForbiddenResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { presentedToken } from '../api-keys/api-key.strategy';
import { API_KEY_SCHEME, Public } from '../auth/scopes.decorator';
import { ProblemDto } from '../common/problem.dto';
import { ValidationProblemException } from '../common/validation.pipe';
import { rateLimitHeaders } from '../api-keys/key-rate-limiter';
import { type ApiKey, TENANT_ID_PATTERN } from '../storage/api-key.record';
import { MAX_CREDITS } from '../storage/key-policies';
import { requiredScopes } from './required-scopes';
import { toVerificationDto, VerificationDto } from './verification.dto';
import { VerificationService } from './verification.service';

const problem = (description: string) => ({ description, type: ProblemDto });
const header = (description: string) => ({ description, schema: { type: 'string' } });
const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': header('For a key with a rate limit: verifications allowed per window.'),
  'RateLimit-Remaining': header('Verifications left in the window.'),
  'RateLimit-Reset': header('Seconds until the window ends.'),
  'RateLimit-Policy': header('The limit and its window, as `<limit>;w=<seconds>`.'),
};

/** The tenant from `X-Tenant-Id` or `?tenant=`; both may be sent only when they agree. */
function tenantOf(request: Request): string {
  const fromHeader = request.headers['x-tenant-id'];
  const fromQuery = request.query.tenant === '' ? undefined : request.query.tenant;
  if (Array.isArray(fromQuery) || (fromQuery !== undefined && typeof fromQuery !== 'string')) {
    throw new ValidationProblemException([{ field: 'tenant', message: 'send one tenant' }]);
  }
  const tenant = typeof fromHeader === 'string' && fromHeader !== '' ? fromHeader : fromQuery;
  if (!tenant) {
    throw new ValidationProblemException([
      { field: 'X-Tenant-Id', message: 'the tenant is required: send X-Tenant-Id or ?tenant=' },
    ]);
  }
  if (fromQuery !== undefined && fromQuery !== tenant) {
    throw new ValidationProblemException([
      { field: 'tenant', message: 'X-Tenant-Id and ?tenant= name different tenants' },
    ]);
  }
  return tenant;
}

/** Credits a verification spends, from `?cost=`: 1 when left out, 0 to check without spending. */
function costOf(query: unknown): number {
  if (query === undefined) return 1;
  if (typeof query !== 'string' || !/^\d{1,16}$/.test(query) || Number(query) > MAX_CREDITS) {
    throw new ValidationProblemException([
      { field: 'cost', message: `cost must be an integer from 0 to ${MAX_CREDITS}` },
    ]);
  }
  return Number(query);
}

const encodedMetas = new WeakMap<ApiKey, string>();

/** The key's meta as X-Auth-Meta carries it: base64url of its JSON, encoded once per key. */
function encodedMeta(key: ApiKey): string {
  let encoded = encodedMetas.get(key);
  if (encoded === undefined) {
    encoded = Buffer.from(JSON.stringify(key.meta)).toString('base64url');
    encodedMetas.set(key, encoded);
  }
  return encoded;
}

/**
 * `/auth/verify`, for gateways (nginx `auth_request`, Traefik ForwardAuth, Envoy `ext_authz`):
 * any method, any path below it, no body read. Documented as GET; every other method and
 * sub-path is the same check.
 */
@ApiTags('Verification')
@Controller('auth/verify')
export class VerificationController {
  constructor(private readonly verification: VerificationService) {}

  @Get()
  @Public()
  @ApiSecurity(API_KEY_SCHEME)
  @ApiOperation({
    summary: 'Verify an API key for a gateway',
    description:
      "Checks the API key in X-API-Key for the tenant in X-Tenant-Id (or ?tenant=) and the scopes in ?scope= (space- or comma-separated, repeatable), under the same rules as the admin API and in this order: the key exists, is enabled, has not expired (a rotated token within its grace period), the client address is allowed, each scope is granted by a permission, the key is within its rate limit, it has the credits (?cost=, default 1), which are then spent. Answers any method and any path below /auth/verify (for nginx auth_request, Traefik ForwardAuth, Envoy ext_authz) and reads no body. Records the key's last use. Unknown, disabled and expired keys count toward the failed-authentication limit of the client address (behind TRUST_PROXY, the original client's).",
  })
  @ApiHeader({
    name: 'X-Tenant-Id',
    required: false,
    description: 'The tenant; or send ?tenant=.',
    schema: { type: 'string', pattern: TENANT_ID_PATTERN.source },
  })
  @ApiQuery({
    name: 'tenant',
    required: false,
    description: 'The tenant, when X-Tenant-Id is not sent.',
    schema: { type: 'string', pattern: TENANT_ID_PATTERN.source },
  })
  @ApiQuery({
    name: 'cost',
    required: false,
    description:
      'Credits the request spends from a key with credits: 1 when left out; 0 checks without spending.',
    schema: { type: 'integer', minimum: 0, maximum: MAX_CREDITS, default: 1 },
  })
  @ApiQuery({
    name: 'scope',
    required: false,
    description: 'Scopes the key must grant: space- or comma-separated; may repeat.',
    schema: { type: 'array', items: { type: 'string' } },
    style: 'form',
    explode: true,
  })
  @ApiOkResponse({
    description: 'The key is valid and grants every scope asked for.',
    type: VerificationDto,
    headers: {
      'X-Auth-Tenant': header('The tenant.'),
      'X-Auth-Key': header('The name of the key.'),
      'X-Auth-Permissions': header("The key's permissions, space-separated."),
      'X-Auth-Owner': header("The key's owner, for a key with one."),
      'X-Auth-Meta': header("The key's meta: base64url of its JSON, for a key with one."),
      'X-Auth-Credits-Remaining': header(
        'Credits left after this request, for a key with credits.',
      ),
      ...RATE_LIMIT_HEADERS,
      'Cache-Control': header('`no-store`.'),
    },
  })
  @ApiBadRequestResponse(
    problem('No tenant (X-Tenant-Id or ?tenant=), a malformed scope, or a cost that is not one.'),
  )
  @ApiUnauthorizedResponse(
    problem('No key, or a key that is unknown, disabled or expired (`code` says which).'),
  )
  @ApiForbiddenResponse(
    problem(
      'The key may not be used from this address (`code`: IP_NOT_ALLOWED), or does not grant a scope asked for (INSUFFICIENT_PERMISSIONS).',
    ),
  )
  @ApiTooManyRequestsResponse({
    ...problem(
      'The key is past its rate limit (`code`: RATE_LIMITED; see Retry-After) or out of credits (USAGE_EXCEEDED); or too many failed authentications from this client (no code; see Retry-After).',
    ),
    headers: { 'Retry-After': header('Seconds until it may try again.'), ...RATE_LIMIT_HEADERS },
  })
  @ApiServiceUnavailableResponse(problem('The key store cannot be reached; see Retry-After.'))
  verifyGet(
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<VerificationDto> {
    return this.answer(request, response);
  }

  @All(['', '*path'])
  @Public()
  @ApiExcludeEndpoint()
  verifyAny(
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<VerificationDto> {
    return this.answer(request, response);
  }

  private async answer(request: Request, response: Response): Promise<VerificationDto> {
    const tenantId = tenantOf(request);
    const scopes = requiredScopes(request.query.scope);
    if (!scopes) {
      throw new ValidationProblemException([
        { field: 'scope', message: 'each scope may only contain letters, digits and ._:*-' },
      ]);
    }
    const verified = await this.verification.verify({
      tenantId,
      token: presentedToken(request),
      scopes,
      // The address Express derives, honouring X-Forwarded-For only as TRUST_PROXY allows.
      client: request.ip ?? 'unknown',
      cost: costOf(request.query.cost),
    });
    const { key, rateLimit, creditsRemaining } = verified;
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('X-Auth-Tenant', tenantId);
    response.setHeader('X-Auth-Key', key.name);
    response.setHeader('X-Auth-Permissions', key.permissions.join(' '));
    if (key.owner !== undefined) response.setHeader('X-Auth-Owner', key.owner);
    if (key.meta !== undefined) response.setHeader('X-Auth-Meta', encodedMeta(key));
    if (creditsRemaining !== undefined) {
      response.setHeader('X-Auth-Credits-Remaining', String(creditsRemaining));
    }
    if (rateLimit) response.set(rateLimitHeaders(rateLimit));
    return toVerificationDto(tenantId, verified);
  }
}

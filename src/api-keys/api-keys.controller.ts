import {
  applyDecorators,
  Body,
  Controller,
  createParamDecorator,
  Delete,
  type ExecutionContext,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiHeader,
  ApiOperation,
  ApiParam,
  ApiPreconditionFailedResponse,
  ApiQuery,
  ApiResponse,
  ApiPayloadTooLargeResponse,
  ApiTags,
  ApiUnsupportedMediaTypeResponse,
  ApiInternalServerErrorResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { Caller } from '../auth/principal';
import { CurrentCaller, RequireScopes } from '../auth/scopes.decorator';
import { API_KEY_READ, API_KEY_WRITE } from '../auth/scopes';
import { type IfMatch, parseIfMatch } from '../common/if-match';
import { ProblemDto } from '../common/problem.dto';
import { ValidationProblemException } from '../common/validation.pipe';
import { ownerProblem } from '../storage/key-policies';
import { OWNER_QUERY_SCHEMA } from './dto/key-policies.dto';
import { entityTagOf } from './api-key';
import { TENANT_ID_PATTERN } from '../storage/api-key.record';
import { type ApiKeyView, ApiKeysService, type IssuedApiKey } from './api-keys.service';
import { ApiKeyDto, CreatedApiKeyDto, KEY_NAME_SCHEMA, toApiKeyDto } from './dto/api-key.dto';
import { CreateApiKeyDto } from './dto/create-api-key.dto';
import { RotateApiKeyDto } from './dto/rotate-api-key.dto';
import { UpdateApiKeyDto } from './dto/update-api-key.dto';

const TENANT_PARAM = {
  name: 'tenantId',
  description: 'The tenant: a folder under TENANTS_DIR.',
  example: 'demo',
  schema: { type: 'string', minLength: 1, maxLength: 64, pattern: TENANT_ID_PATTERN.source },
} as const;

const KEY_NAME_PARAM = {
  name: 'keyName',
  description: 'The name of the API key.',
  example: KEY_NAME_SCHEMA.example,
  schema: { type: 'string', ...KEY_NAME_SCHEMA },
} as const;

const problem = (description: string) => ({ description, type: ProblemDto });
const INVALID_BODY = problem(
  'The body is malformed JSON, has unknown fields or wrong types; or both a bearer token and an API key were sent.',
);
const TENANT_MISSING = problem('The tenant does not exist.');
const KEY_MISSING = problem('The tenant or the API key does not exist.');
const FILE_INVALID = problem("The tenant's security.yml cannot be read; it is left untouched.");
const ETAG_HEADER = {
  ETag: { description: "The key's version, for If-Match.", schema: { type: 'string' } },
};
const IF_MATCH = {
  name: 'If-Match',
  required: false,
  description: 'Apply only if the key still has this ETag (or any version, with *).',
} as const;
const STALE = problem('The key changed since the ETag given in If-Match.');
const DISK_FULL = {
  status: 507,
  description: 'The disk is full: nothing was changed and no token was issued.',
  type: ProblemDto,
} as const;

/** The answers of a route that reads a JSON body, besides its own. */
const ReadsBody = () =>
  applyDecorators(
    ApiBadRequestResponse(INVALID_BODY),
    ApiPayloadTooLargeResponse(problem('The body is larger than 100 kB.')),
    ApiUnsupportedMediaTypeResponse(problem('The body is not application/json.')),
  );

/** The path, the If-Match condition and the answers of a route that changes one named key. */
const ChangesKey = () =>
  applyDecorators(
    ApiParam(KEY_NAME_PARAM),
    ApiHeader(IF_MATCH),
    ApiNotFoundResponse(KEY_MISSING),
    ApiPreconditionFailedResponse(STALE),
    ApiResponse(DISK_FULL),
  );

/** The request's `If-Match` condition, parsed (undefined without one). */
const IfMatchCondition = createParamDecorator(
  (_data: unknown, context: ExecutionContext): IfMatch | undefined => {
    const header = context.switchToHttp().getRequest<Request>().headers['if-match'];
    return parseIfMatch(header);
  },
);

/** Sends the key's strong ETag and returns its public form. */
function tagged(response: Response, view: ApiKeyView): ApiKeyDto {
  response.setHeader('ETag', entityTagOf(view.key));
  return toApiKeyDto(view);
}

/** A token in the answer: tagged, and never to be cached anywhere. */
function issued(response: Response, { view, token }: IssuedApiKey): CreatedApiKeyDto {
  response.setHeader('Cache-Control', 'no-store');
  return { ...tagged(response, view), token };
}

const NO_STORE_HEADER = {
  'Cache-Control': {
    description: '`no-store`: the token must not be cached anywhere.',
    schema: { type: 'string' },
  },
};

@ApiTags('ApiKeys')
@ApiParam(TENANT_PARAM)
@ApiInternalServerErrorResponse(FILE_INVALID)
@Controller('api/:tenantId/admin/apiKeys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Get()
  @RequireScopes(API_KEY_READ)
  @ApiOperation({
    summary: 'List API keys for the tenant',
    description: `Returns all API key definitions stored in security.yml. Key hashes are never included in responses.\n\nRequires ${API_KEY_READ} scope.`,
  })
  @ApiQuery({
    name: 'owner',
    required: false,
    description: "Only this owner's keys.",
    // No example: Swagger UI fills an optional parameter's example into "Try it out", which
    // would turn a plain listing into a filter on a made-up owner.
    schema: OWNER_QUERY_SCHEMA,
  })
  @ApiOkResponse({ description: 'API keys returned.', type: [ApiKeyDto] })
  @ApiBadRequestResponse(problem('The owner is not a valid owner id.'))
  @ApiNotFoundResponse(TENANT_MISSING)
  async list(
    @Param('tenantId') tenantId: string,
    @Query('owner') owner: unknown,
  ): Promise<ApiKeyDto[]> {
    const problem = owner === undefined ? undefined : ownerProblem(owner);
    if (problem) throw new ValidationProblemException([{ field: 'owner', message: problem }]);
    const filter = typeof owner === 'string' ? { owner } : {};
    return (await this.apiKeys.list(tenantId, filter)).map(toApiKeyDto);
  }

  @Post()
  @RequireScopes(API_KEY_WRITE)
  @ApiOperation({
    summary: 'Create a new API key',
    description: `Generates a cryptographically secure token, stores its SHA-256 hash in security.yml, and returns the plaintext token in the response. The token is only returned once — copy it immediately.\n\nRequires ${API_KEY_WRITE} scope.`,
  })
  @ApiCreatedResponse({
    description: 'API key created. The Location header names the new key.',
    type: CreatedApiKeyDto,
    headers: {
      ...ETAG_HEADER,
      ...NO_STORE_HEADER,
      Location: { description: 'The path of the new key.', schema: { type: 'string' } },
    },
  })
  @ReadsBody()
  @ApiNotFoundResponse(TENANT_MISSING)
  @ApiConflictResponse(problem('An API key with this name already exists.'))
  @ApiResponse(DISK_FULL)
  async create(
    @Param('tenantId') tenantId: string,
    @Body() body: CreateApiKeyDto,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CreatedApiKeyDto> {
    const created = await this.apiKeys.create(tenantId, body, caller);
    response.location(
      `/api/${encodeURIComponent(tenantId)}/admin/apiKeys/${encodeURIComponent(body.name)}`,
    );
    return issued(response, created);
  }

  @Get(':keyName')
  @RequireScopes(API_KEY_READ)
  @ApiOperation({
    summary: 'Get a specific API key',
    description: `Returns the API key definition identified by keyName. The key hash is never returned.\n\nRequires ${API_KEY_READ} scope.`,
  })
  @ApiParam(KEY_NAME_PARAM)
  @ApiOkResponse({ description: 'API key returned.', type: ApiKeyDto, headers: ETAG_HEADER })
  @ApiNotFoundResponse(KEY_MISSING)
  async get(
    @Param('tenantId') tenantId: string,
    @Param('keyName') keyName: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<ApiKeyDto> {
    return tagged(response, await this.apiKeys.get(tenantId, keyName));
  }

  @Put(':keyName')
  @RequireScopes(API_KEY_WRITE)
  @ApiOperation({
    summary: 'Update an API key',
    description: `Replaces the enabled field of the key, and permissions, expiresAt, owner, rateLimit, credits, allowedIps and meta when given (null removes the last six). The key name and the stored hash are not changed. Fields left out stay as they are. Credits given are granted from now, even the same number as before.\n\nRequires ${API_KEY_WRITE} scope.`,
  })
  @ChangesKey()
  @ReadsBody()
  @ApiOkResponse({ description: 'API key updated.', type: ApiKeyDto, headers: ETAG_HEADER })
  async update(
    @Param('tenantId') tenantId: string,
    @Param('keyName') keyName: string,
    @Body() body: UpdateApiKeyDto,
    @CurrentCaller() caller: Caller,
    @IfMatchCondition() ifMatch: IfMatch | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<ApiKeyDto> {
    const view = await this.apiKeys.update(tenantId, keyName, body, caller, ifMatch);
    return tagged(response, view);
  }

  @Post(':keyName/rotate')
  @HttpCode(200)
  @RequireScopes(API_KEY_WRITE)
  @ApiOperation({
    summary: 'Rotate an API key',
    description: `Gives the key a new token, returned this once, and keeps its name, permissions, enabled state and expiry. The token it replaces keeps working for gracePeriodSeconds (0 by default: refused at once), and only that one: rotating again ends the previous grace period. Rotating a key whose permissions exceed your own is refused, since it hands out a working credential.\n\nRequires ${API_KEY_WRITE} scope.`,
  })
  @ChangesKey()
  @ReadsBody()
  @ApiBody({ type: RotateApiKeyDto, required: false })
  @ApiOkResponse({
    description: 'API key rotated: the new token, shown once.',
    type: CreatedApiKeyDto,
    headers: { ...ETAG_HEADER, ...NO_STORE_HEADER },
  })
  async rotate(
    @Param('tenantId') tenantId: string,
    @Param('keyName') keyName: string,
    @Body() body: RotateApiKeyDto,
    @CurrentCaller() caller: Caller,
    @IfMatchCondition() ifMatch: IfMatch | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CreatedApiKeyDto> {
    const rotated = await this.apiKeys.rotate(tenantId, keyName, body, caller, ifMatch);
    return issued(response, rotated);
  }

  @Delete(':keyName')
  @HttpCode(204)
  @RequireScopes(API_KEY_WRITE)
  @ApiOperation({
    summary: 'Delete an API key',
    description: `Removes the API key entry from security.yml. The key immediately stops working.\n\nRequires ${API_KEY_WRITE} scope.`,
  })
  @ChangesKey()
  @ApiNoContentResponse({ description: 'API key deleted.' })
  async delete(
    @Param('tenantId') tenantId: string,
    @Param('keyName') keyName: string,
    @CurrentCaller() caller: Caller,
    @IfMatchCondition() ifMatch: IfMatch | undefined,
  ): Promise<void> {
    await this.apiKeys.delete(tenantId, keyName, caller, ifMatch);
  }
}

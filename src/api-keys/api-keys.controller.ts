import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  Param,
  Post,
  Put,
  Res,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiTags,
  ApiUnsupportedMediaTypeResponse,
  ApiInternalServerErrorResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal, RequireScopes } from '../auth/scopes.decorator';
import { API_KEY_READ, API_KEY_WRITE } from '../auth/scopes';
import { ProblemDto } from '../common/problem.dto';
import { TENANT_ID_PATTERN } from './api-key';
import { ApiKeysService } from './api-keys.service';
import {
  ApiKeyDto,
  CreatedApiKeyDto,
  KEY_NAME_SCHEMA,
  toApiKeyDto,
  toCreatedApiKeyDto,
} from './dto/api-key.dto';
import { CreateApiKeyDto } from './dto/create-api-key.dto';
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
  @ApiOkResponse({ description: 'API keys returned.', type: [ApiKeyDto] })
  @ApiNotFoundResponse(TENANT_MISSING)
  async list(@Param('tenantId') tenantId: string): Promise<ApiKeyDto[]> {
    return (await this.apiKeys.list(tenantId)).map(toApiKeyDto);
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
  })
  @ApiBadRequestResponse(INVALID_BODY)
  @ApiNotFoundResponse(TENANT_MISSING)
  @ApiConflictResponse(problem('An API key with this name already exists.'))
  @ApiPayloadTooLargeResponse(problem('The body is larger than 100 kB.'))
  @ApiUnsupportedMediaTypeResponse(problem('The body is not application/json.'))
  @Header('Cache-Control', 'no-store')
  async create(
    @Param('tenantId') tenantId: string,
    @Body() body: CreateApiKeyDto,
    @CurrentPrincipal() caller: Principal,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CreatedApiKeyDto> {
    const { key, token } = await this.apiKeys.create(tenantId, body, caller);
    response.location(
      `/api/${encodeURIComponent(tenantId)}/admin/apiKeys/${encodeURIComponent(key.name)}`,
    );
    return toCreatedApiKeyDto(key, token);
  }

  @Get(':keyName')
  @RequireScopes(API_KEY_READ)
  @ApiOperation({
    summary: 'Get a specific API key',
    description: `Returns the API key definition identified by keyName. The key hash is never returned.\n\nRequires ${API_KEY_READ} scope.`,
  })
  @ApiParam(KEY_NAME_PARAM)
  @ApiOkResponse({ description: 'API key returned.', type: ApiKeyDto })
  @ApiNotFoundResponse(KEY_MISSING)
  async get(
    @Param('tenantId') tenantId: string,
    @Param('keyName') keyName: string,
  ): Promise<ApiKeyDto> {
    return toApiKeyDto(await this.apiKeys.get(tenantId, keyName));
  }

  @Put(':keyName')
  @RequireScopes(API_KEY_WRITE)
  @ApiOperation({
    summary: 'Update an API key',
    description: `Replaces the enabled and permissions fields of the key. The key name and the stored hash are not changed. Permissions left out stay as they are.\n\nRequires ${API_KEY_WRITE} scope.`,
  })
  @ApiParam(KEY_NAME_PARAM)
  @ApiOkResponse({ description: 'API key updated.', type: ApiKeyDto })
  @ApiBadRequestResponse(INVALID_BODY)
  @ApiNotFoundResponse(KEY_MISSING)
  @ApiPayloadTooLargeResponse(problem('The body is larger than 100 kB.'))
  @ApiUnsupportedMediaTypeResponse(problem('The body is not application/json.'))
  async update(
    @Param('tenantId') tenantId: string,
    @Param('keyName') keyName: string,
    @Body() body: UpdateApiKeyDto,
    @CurrentPrincipal() caller: Principal,
  ): Promise<ApiKeyDto> {
    return toApiKeyDto(await this.apiKeys.update(tenantId, keyName, body, caller));
  }

  @Delete(':keyName')
  @HttpCode(204)
  @RequireScopes(API_KEY_WRITE)
  @ApiOperation({
    summary: 'Delete an API key',
    description: `Removes the API key entry from security.yml. The key immediately stops working.\n\nRequires ${API_KEY_WRITE} scope.`,
  })
  @ApiParam(KEY_NAME_PARAM)
  @ApiNoContentResponse({ description: 'API key deleted.' })
  @ApiNotFoundResponse(KEY_MISSING)
  async delete(
    @Param('tenantId') tenantId: string,
    @Param('keyName') keyName: string,
  ): Promise<void> {
    await this.apiKeys.delete(tenantId, keyName);
  }
}

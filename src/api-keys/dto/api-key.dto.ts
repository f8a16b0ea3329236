import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { type ApiKey, KEY_NAME_PATTERN, PERMISSION_PATTERN } from '../api-key';

export const KEY_NAME_SCHEMA = {
  description: 'Key name. Only alphanumeric characters, hyphens, underscores and dots are allowed.',
  example: 'ci-deploy',
  minLength: 1,
  maxLength: 128,
  pattern: KEY_NAME_PATTERN.source,
} as const;

export const PERMISSIONS_SCHEMA = {
  type: String,
  isArray: true,
  maxItems: 64,
  items: { type: 'string', minLength: 1, maxLength: 128, pattern: PERMISSION_PATTERN.source },
  example: ['tenant.apiKey:read'],
} as const;

/** API key definition returned by list and get endpoints. The key hash is never exposed. */
export class ApiKeyDto {
  @ApiProperty(KEY_NAME_SCHEMA)
  name!: string;

  @ApiProperty({ description: 'Whether this key is active.', example: true })
  enabled!: boolean;

  @ApiProperty({ ...PERMISSIONS_SCHEMA, description: 'Permission scopes granted to this key.' })
  permissions!: string[];

  @ApiPropertyOptional({ format: 'date-time', example: '2026-11-29T16:00:00.000Z' })
  createdAt?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-11-29T16:00:00.000Z' })
  updatedAt?: string;
}

/** A newly created key: its definition and the plaintext token, returned this once only. */
export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({
    description: 'The plaintext token. It is only returned once — copy it immediately.',
    example: 'tak_TINTprhVns8rr1DKGbMV4BC3ZZWqpUiVNGx0lOsv1UM4AMZUd',
  })
  token!: string;
}

/** Copies the public fields of a key; the hash is never copied, so it cannot leak. */
export function toApiKeyDto(key: ApiKey): ApiKeyDto {
  const dto: ApiKeyDto = {
    name: key.name,
    enabled: key.enabled,
    permissions: [...key.permissions],
  };
  if (key.createdAt !== undefined) dto.createdAt = key.createdAt;
  if (key.updatedAt !== undefined) dto.updatedAt = key.updatedAt;
  return dto;
}

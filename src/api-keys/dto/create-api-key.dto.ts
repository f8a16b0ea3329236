import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';
import { KEY_NAME_SCHEMA, PERMISSIONS_SCHEMA } from './api-key.dto';
import { type CreditsDto, PolicyField, type RateLimitDto } from './key-policies.dto';
import { IsInstant, IsKeyName, IsOmittable, IsPermissionList } from './validation';

/** Request body to create an API key. */
export class CreateApiKeyDto {
  @ApiProperty(KEY_NAME_SCHEMA)
  @IsKeyName()
  name!: string;

  @ApiPropertyOptional({
    description: 'Whether this key is active. Defaults to true.',
    default: true,
  })
  @IsOmittable()
  @IsBoolean({ message: '$property must be a boolean' })
  enabled?: boolean;

  @ApiPropertyOptional({
    ...PERMISSIONS_SCHEMA,
    description: 'List of permission scopes granted to this key. Use ["*"] for full access.',
    default: [],
  })
  @IsOmittable()
  @IsPermissionList()
  permissions?: string[];

  @ApiPropertyOptional({
    type: 'string',
    format: 'date-time',
    description: 'An instant in the future from which the key authenticates nowhere.',
    example: '2027-01-31T00:00:00Z',
  })
  @IsOmittable()
  @IsInstant()
  expiresAt?: string;

  @PolicyField('owner')
  owner?: string;

  @PolicyField('rateLimit')
  rateLimit?: RateLimitDto;

  @PolicyField('credits')
  credits?: CreditsDto;

  @PolicyField('allowedIps')
  allowedIps?: string[];

  @PolicyField('meta')
  meta?: Record<string, unknown>;
}

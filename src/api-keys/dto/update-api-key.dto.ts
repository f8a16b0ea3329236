import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';
import { PERMISSIONS_SCHEMA } from './api-key.dto';
import { type CreditsDto, PolicyField, type RateLimitDto } from './key-policies.dto';
import { IsInstant, IsOmittable, IsOmittableOrNull, IsPermissionList } from './validation';

/** Request body to update an API key. */
export class UpdateApiKeyDto {
  @ApiProperty({ description: 'Whether this key is active.', example: true })
  @IsBoolean({ message: '$property must be a boolean' })
  enabled!: boolean;

  @ApiPropertyOptional({
    ...PERMISSIONS_SCHEMA,
    description:
      'New list of permission scopes. Use ["*"] for full access. Left out, the permissions stay as they are.',
  })
  @IsOmittable()
  @IsPermissionList()
  permissions?: string[];

  @ApiPropertyOptional({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description:
      'An instant in the future from which the key authenticates nowhere; null removes the expiry, left out it stays.',
    example: '2027-01-31T00:00:00Z',
  })
  @IsOmittableOrNull()
  @IsInstant()
  expiresAt?: string | null;

  @PolicyField('owner', { removable: true })
  owner?: string | null;

  @PolicyField('rateLimit', { removable: true })
  rateLimit?: RateLimitDto | null;

  @PolicyField('credits', { removable: true })
  credits?: CreditsDto | null;

  @PolicyField('allowedIps', { removable: true })
  allowedIps?: string[] | null;

  @PolicyField('meta', { removable: true })
  meta?: Record<string, unknown> | null;
}

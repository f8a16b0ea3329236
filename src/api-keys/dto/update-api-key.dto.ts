import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';
import { PERMISSIONS_SCHEMA } from './api-key.dto';
import { IsOmittable, IsPermissionList } from './validation';

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
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ApiKey } from '../storage/api-key.record';

/** The answer to a gateway whose request may pass: who is calling, with what permissions. */
export class VerificationDto {
  @ApiProperty({ enum: [true], example: true })
  valid!: true;

  @ApiProperty({ example: 'demo' })
  tenant!: string;

  @ApiProperty({ description: 'The name of the key that authenticated.', example: 'ci-deploy' })
  key!: string;

  @ApiProperty({ type: [String], example: ['orders:read'] })
  permissions!: string[];

  @ApiPropertyOptional({ format: 'date-time', description: 'When the key expires, if it does.' })
  expiresAt?: string;
}

export function toVerificationDto(tenant: string, key: ApiKey): VerificationDto {
  return {
    valid: true,
    tenant,
    key: key.name,
    permissions: [...key.permissions],
    ...(key.expiresAt !== undefined && { expiresAt: key.expiresAt }),
  };
}

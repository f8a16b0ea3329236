import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { VerifiedKey } from '../api-keys/api-keys.service';

/** The key's rate-limit window after this verification, as the RateLimit header fields say. */
export class VerifiedRateLimitDto {
  @ApiProperty({ type: 'integer', description: 'Verifications allowed per period.', example: 100 })
  limit!: number;

  @ApiProperty({ type: 'integer', description: 'Verifications left in this window.', example: 99 })
  remaining!: number;

  @ApiProperty({ type: 'integer', description: 'Seconds until the window ends.', example: 60 })
  reset!: number;
}

/** The key's credits after this verification's spend. */
export class VerifiedCreditsDto {
  @ApiProperty({ type: 'integer', minimum: 0, example: 499 })
  remaining!: number;
}

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

  @ApiPropertyOptional({ description: "The key's owner, if it has one.", example: 'customer-42' })
  owner?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: "The key's meta, if it has any.",
    example: { plan: 'pro' },
  })
  meta?: Record<string, unknown>;

  @ApiPropertyOptional({ type: VerifiedCreditsDto, description: 'For a key with credits.' })
  credits?: VerifiedCreditsDto;

  @ApiPropertyOptional({ type: VerifiedRateLimitDto, description: 'For a key with a rate limit.' })
  rateLimit?: VerifiedRateLimitDto;
}

export function toVerificationDto(
  tenant: string,
  { key, rateLimit, creditsRemaining }: VerifiedKey,
): VerificationDto {
  return {
    valid: true,
    tenant,
    key: key.name,
    permissions: [...key.permissions],
    ...(key.expiresAt !== undefined && { expiresAt: key.expiresAt }),
    ...(key.owner !== undefined && { owner: key.owner }),
    ...(key.meta !== undefined && { meta: key.meta }),
    ...(creditsRemaining !== undefined && { credits: { remaining: creditsRemaining } }),
    ...(rateLimit && {
      rateLimit: {
        limit: rateLimit.limit,
        remaining: rateLimit.remaining,
        reset: rateLimit.resetSeconds,
      },
    }),
  };
}

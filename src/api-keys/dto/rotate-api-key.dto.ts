import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { IsOmittable } from './validation';

/** Thirty days: the longest a replaced token may keep working. */
export const MAX_GRACE_PERIOD_SECONDS = 2_592_000;

/** Request body to rotate an API key; it may be left out. */
export class RotateApiKeyDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX_GRACE_PERIOD_SECONDS,
    default: 0,
    description:
      'How many seconds the replaced token keeps working, with the same permissions; 0 refuses it at once.',
    example: 3600,
  })
  @IsOmittable()
  @IsInt({ message: '$property must be an integer' })
  @Min(0, { message: '$property must be at least 0' })
  @Max(MAX_GRACE_PERIOD_SECONDS, {
    message: `$property must be at most ${MAX_GRACE_PERIOD_SECONDS}`,
  })
  gracePeriodSeconds?: number;
}

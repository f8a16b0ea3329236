import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { IsOmittable } from '../../api-keys/dto/validation';

export const MAX_AUDIT_PAGE = 500;

/** Paging through the audit trail, newest first. */
export class AuditQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    description: 'Entries per page.',
    default: 50,
    minimum: 1,
    maximum: MAX_AUDIT_PAGE,
  })
  @IsOmittable()
  @Type(() => Number)
  @IsInt({ message: '$property must be an integer' })
  @Min(1, { message: '$property must be at least 1' })
  @Max(MAX_AUDIT_PAGE, { message: `$property must be at most ${MAX_AUDIT_PAGE}` })
  limit?: number;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'Only entries with a smaller seq: pass the last seq of the previous page.',
    minimum: 1,
  })
  @IsOmittable()
  @Type(() => Number)
  @IsInt({ message: '$property must be an integer' })
  @Min(1, { message: '$property must be at least 1' })
  before?: number;
}

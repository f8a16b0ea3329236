import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PROBLEM_CODES, type ProblemCode } from './http-problems';

export class FieldErrorDto {
  @ApiProperty({ example: 'name' })
  field!: string;

  @ApiProperty({ example: 'name may only contain letters, digits, hyphens, underscores and dots' })
  message!: string;
}

/** RFC 9457 problem details, sent as `application/problem+json` for every error. */
export class ProblemDto {
  @ApiProperty({ example: 'about:blank' })
  type!: string;

  @ApiProperty({ example: 'Bad Request' })
  title!: string;

  @ApiProperty({ type: 'integer', example: 400 })
  status!: number;

  @ApiProperty({ example: 'name may only contain letters, digits, hyphens, underscores and dots' })
  detail!: string;

  @ApiPropertyOptional({ description: 'The request id, as in the X-Request-Id response header.' })
  instance?: string;

  @ApiPropertyOptional({
    enum: PROBLEM_CODES,
    description:
      'Why an API key was refused (401: NOT_FOUND, DISABLED, EXPIRED; 403: IP_NOT_ALLOWED, INSUFFICIENT_PERMISSIONS; 429: RATE_LIMITED, USAGE_EXCEEDED).',
  })
  code?: ProblemCode;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'One entry per invalid field.' })
  errors?: FieldErrorDto[];
}

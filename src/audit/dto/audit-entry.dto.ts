import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CreditsDto, RateLimitDto } from '../../api-keys/dto/key-policies.dto';
import type { AuditEntry } from '../../storage/audit-entry';

/** `enabled` before and after; null where the key did not exist. */
export class EnabledChangeDto {
  @ApiProperty({ type: 'boolean', nullable: true, example: true })
  from!: boolean | null;

  @ApiProperty({ type: 'boolean', nullable: true, example: false })
  to!: boolean | null;
}

/** `permissions` before and after; null where the key did not exist. */
export class PermissionsChangeDto {
  @ApiProperty({ type: 'array', items: { type: 'string' }, nullable: true, example: [] })
  from!: string[] | null;

  @ApiProperty({ type: 'array', items: { type: 'string' }, nullable: true, example: ['*'] })
  to!: string[] | null;
}

/** An instant before and after (`expiresAt`, `previousTokenExpiresAt`); null where there was none. */
export class InstantChangeDto {
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true, example: null })
  from!: string | null;

  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    example: '2027-01-31T00:00:00.000Z',
  })
  to!: string | null;
}

/** The token was replaced (by a rotation, `keys apply` or `keys edit`): never the token or its hash. */
export class TokenChangeDto {
  @ApiProperty({ enum: ['old'] })
  from!: 'old';

  @ApiProperty({ enum: ['new'] })
  to!: 'new';
}

/** `owner` before and after; null where there was none. */
export class OwnerChangeDto {
  @ApiProperty({ type: 'string', nullable: true, example: null })
  from!: string | null;

  @ApiProperty({ type: 'string', nullable: true, example: 'customer-42' })
  to!: string | null;
}

/** `rateLimit` before and after; null where there was none. */
export class RateLimitChangeDto {
  @ApiProperty({ type: RateLimitDto, nullable: true })
  from!: RateLimitDto | null;

  @ApiProperty({ type: RateLimitDto, nullable: true })
  to!: RateLimitDto | null;
}

/** `credits` as granted before and after (not what was spent of them); null where there were none. */
export class CreditsChangeDto {
  @ApiProperty({ type: CreditsDto, nullable: true })
  from!: CreditsDto | null;

  @ApiProperty({ type: CreditsDto, nullable: true })
  to!: CreditsDto | null;
}

/** `allowedIps` before and after; null where there were none. */
export class AllowedIpsChangeDto {
  @ApiProperty({ type: 'array', items: { type: 'string' }, nullable: true, example: null })
  from!: string[] | null;

  @ApiProperty({
    type: 'array',
    items: { type: 'string' },
    nullable: true,
    example: ['10.0.0.0/8'],
  })
  to!: string[] | null;
}

/** `meta` before and after; null where there was none. */
export class MetaChangeDto {
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, example: null })
  from!: Record<string, unknown> | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    example: { plan: 'pro' },
  })
  to!: Record<string, unknown> | null;
}

/** The public fields a change touched, each as `{ from, to }`. */
export class AuditChangesDto {
  @ApiPropertyOptional({ type: EnabledChangeDto })
  enabled?: EnabledChangeDto;

  @ApiPropertyOptional({ type: PermissionsChangeDto })
  permissions?: PermissionsChangeDto;

  @ApiPropertyOptional({ type: InstantChangeDto })
  expiresAt?: InstantChangeDto;

  @ApiPropertyOptional({ type: TokenChangeDto, description: 'The token was replaced (rotate).' })
  token?: TokenChangeDto;

  @ApiPropertyOptional({
    type: InstantChangeDto,
    description: 'Until when the replaced token keeps working (rotate); null: not at all.',
  })
  previousTokenExpiresAt?: InstantChangeDto;

  @ApiPropertyOptional({ type: OwnerChangeDto })
  owner?: OwnerChangeDto;

  @ApiPropertyOptional({ type: RateLimitChangeDto })
  rateLimit?: RateLimitChangeDto;

  @ApiPropertyOptional({ type: CreditsChangeDto })
  credits?: CreditsChangeDto;

  @ApiPropertyOptional({ type: AllowedIpsChangeDto })
  allowedIps?: AllowedIpsChangeDto;

  @ApiPropertyOptional({ type: MetaChangeDto })
  meta?: MetaChangeDto;

  @ApiPropertyOptional({
    type: InstantChangeDto,
    description: 'A leak was reported (leak), or the leaked token replaced (rotate).',
  })
  leakedAt?: InstantChangeDto;
}

/** One line of a tenant's audit trail. It never holds a token or a hash. */
export class AuditEntryDto {
  @ApiProperty({ type: 'integer', description: 'Position in the log, from 1.', example: 42 })
  seq!: number;

  @ApiProperty({ format: 'date-time', example: '2026-11-29T16:00:00.000Z' })
  time!: string;

  @ApiProperty({ description: 'The X-Request-Id of the request that made the change.' })
  requestId!: string;

  @ApiProperty({
    description: 'api-key:<key name>, bearer:<sub>, cli:operator or scanner:github.',
    example: 'bearer:alice',
  })
  actor!: string;

  @ApiProperty({ enum: ['create', 'update', 'rotate', 'delete', 'leak'] })
  action!: AuditEntry['action'];

  @ApiProperty({ description: 'The API key changed.', example: 'ci-deploy' })
  key!: string;

  @ApiProperty({
    type: AuditChangesDto,
    description: 'Each public field that changed, as { from, to }.',
    example: { enabled: { from: true, to: false } },
  })
  changes!: AuditChangesDto;

  @ApiPropertyOptional({ description: 'For a leak: where the scanner found the token.' })
  url?: string;

  @ApiPropertyOptional({
    description: 'For a leak: what the scanner found it in (content, commit, cli...).',
  })
  source?: string;

  @ApiProperty({
    description: 'The hash of the previous line: the chain `npm run keys -- audit verify` checks.',
    pattern: '^[0-9a-f]{64}$',
  })
  prev!: string;

  @ApiProperty({
    description: "SHA-256 of this line's JSON without this field: an edited line shows.",
    pattern: '^[0-9a-f]{64}$',
  })
  hash!: string;
}

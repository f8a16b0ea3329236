import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { KEY_NAME_PATTERN, PERMISSION_PATTERN } from '../../storage/api-key.record';
import type { ApiKeyView } from '../api-keys.service';
import {
  ALLOWED_IPS_SCHEMA,
  CreditsDto,
  META_SCHEMA,
  OWNER_SCHEMA,
  RateLimitDto,
} from './key-policies.dto';

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

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'From this instant on the key authenticates nowhere.',
    example: '2027-01-31T00:00:00.000Z',
  })
  expiresAt?: string;

  @ApiPropertyOptional({
    description:
      "The token's first 8 characters, `...`, and its last 4, to tell keys apart; for keys the service minted.",
    example: 'tak_Ab3x...9QzK',
  })
  hint?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description: `When the key last authenticated a request, accurate to USAGE_FLUSH_SECONDS.`,
    example: '2026-11-30T09:15:00.000Z',
  })
  lastUsedAt?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Until when the token the last rotation replaced still works, while it does.',
    example: '2026-12-01T00:00:00.000Z',
  })
  previousTokenExpiresAt?: string;

  @ApiPropertyOptional(OWNER_SCHEMA)
  owner?: string;

  @ApiPropertyOptional({ type: RateLimitDto })
  rateLimit?: RateLimitDto;

  @ApiPropertyOptional({
    type: CreditsDto,
    description: 'The credits left now (spent by verifications), and the refill.',
  })
  credits?: CreditsDto;

  @ApiPropertyOptional(ALLOWED_IPS_SCHEMA)
  allowedIps?: string[];

  @ApiPropertyOptional(META_SCHEMA)
  meta?: Record<string, unknown>;

  @ApiPropertyOptional({
    format: 'date-time',
    description:
      "When a secret scanner reported one of the key's tokens leaked (LEAKED_KEY_ACTION says what was done); a rotation clears it.",
    example: '2026-12-06T03:00:00.000Z',
  })
  leakedAt?: string;
}

/** A newly created key: its definition and the plaintext token, returned this once only. */
export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({
    description: 'The plaintext token. It is only returned once — copy it immediately.',
    example: 'tak_TINTprhVns8rr1DKGbMV4BC3ZZWqpUiVNGx0lOsv1UM4AMZUd',
  })
  token!: string;
}

/** Copies the public fields of a key; no hash is ever copied, so none can leak. */
export function toApiKeyDto({
  key,
  lastUsedAt,
  previousTokenExpiresAt,
  creditsRemaining,
}: ApiKeyView): ApiKeyDto {
  const dto: ApiKeyDto = {
    name: key.name,
    enabled: key.enabled,
    permissions: [...key.permissions],
  };
  if (key.createdAt !== undefined) dto.createdAt = key.createdAt;
  if (key.updatedAt !== undefined) dto.updatedAt = key.updatedAt;
  if (key.expiresAt !== undefined) dto.expiresAt = key.expiresAt;
  if (key.hint !== undefined) dto.hint = key.hint;
  if (lastUsedAt !== undefined) dto.lastUsedAt = lastUsedAt;
  if (previousTokenExpiresAt !== undefined) dto.previousTokenExpiresAt = previousTokenExpiresAt;
  if (key.owner !== undefined) dto.owner = key.owner;
  if (key.rateLimit) {
    dto.rateLimit = { limit: key.rateLimit.limit, periodSeconds: key.rateLimit.periodSeconds };
  }
  if (key.credits) {
    const { refill } = key.credits;
    dto.credits = {
      remaining: creditsRemaining ?? key.credits.remaining,
      ...(refill && { refill: { amount: refill.amount, intervalSeconds: refill.intervalSeconds } }),
    };
  }
  if (key.allowedIps) dto.allowedIps = [...key.allowedIps];
  if (key.meta) dto.meta = key.meta;
  if (key.leakedAt !== undefined) dto.leakedAt = key.leakedAt;
  return dto;
}

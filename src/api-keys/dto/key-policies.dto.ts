import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  MAX_ALLOWED_IPS,
  MAX_CREDITS,
  MAX_META_BYTES,
  MAX_META_DEPTH,
  MAX_RATE_LIMIT,
  MAX_RATE_PERIOD_SECONDS,
  MAX_REFILL_INTERVAL_SECONDS,
  MIN_REFILL_INTERVAL_SECONDS,
  OWNER_PATTERN,
  POLICY_CHECKS,
} from '../../storage/key-policies';
import { IsOmittable, IsOmittableOrNull, SatisfiesPolicy } from './validation';

/** At most `limit` verifications per `periodSeconds` (fixed windows). */
export class RateLimitDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_RATE_LIMIT, example: 100 })
  limit!: number;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_RATE_PERIOD_SECONDS, example: 60 })
  periodSeconds!: number;
}

/** Once per `intervalSeconds`, `remaining` is set back to `amount`. */
export class CreditRefillDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_CREDITS, example: 1000 })
  amount!: number;

  @ApiProperty({
    type: 'integer',
    minimum: MIN_REFILL_INTERVAL_SECONDS,
    maximum: MAX_REFILL_INTERVAL_SECONDS,
    description:
      'Refills happen at multiples of the interval since the Unix epoch: 86400 refills at 00:00 UTC.',
    example: 86400,
  })
  intervalSeconds!: number;
}

/** Uses of the key: each verification spends its cost (1 by default), refused at 0. */
export class CreditsDto {
  @ApiProperty({
    type: 'integer',
    minimum: 0,
    maximum: MAX_CREDITS,
    description: 'Credits left. Setting it (even to the same number) grants that many from now.',
    example: 500,
  })
  remaining!: number;

  @ApiPropertyOptional({ type: CreditRefillDto })
  refill?: CreditRefillDto;
}

/** An owner id as the `owner` query filter takes it: without an example, see the controller. */
export const OWNER_QUERY_SCHEMA = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: OWNER_PATTERN.source,
} as const;

export const OWNER_SCHEMA = {
  ...OWNER_QUERY_SCHEMA,
  description: "The tenant's own customer or user id the key belongs to.",
  example: 'customer-42',
} as const;

export const ALLOWED_IPS_SCHEMA = {
  type: 'array',
  items: { type: 'string', maxLength: 43 },
  maxItems: MAX_ALLOWED_IPS,
  description:
    'IPv4 and IPv6 addresses and CIDR ranges the key may be used from (IPv4 ranges also hold their IPv4-mapped IPv6 form); empty or absent: any address.',
  example: ['10.0.0.0/8', '2001:db8::/32'],
} as const;

export const META_SCHEMA = {
  type: 'object',
  additionalProperties: true,
  description: `Free JSON for the platform, sent to the protected API with each verification (X-Auth-Meta); at most ${MAX_META_BYTES} bytes as JSON, nesting at most ${MAX_META_DEPTH} deep.`,
  example: { plan: 'pro', region: 'eu' },
} as const;

const POLICY_SCHEMAS = {
  owner: OWNER_SCHEMA,
  rateLimit: { type: RateLimitDto, description: 'At most `limit` verifications per period.' },
  credits: { type: CreditsDto, description: 'Uses of the key, spent by each verification.' },
  allowedIps: ALLOWED_IPS_SCHEMA,
  meta: META_SCHEMA,
} as const;

/**
 * One policy field of a request body: its schema, and the check the security.yml parser
 * applies too. In an update (`removable`), null removes the field and leaving it out keeps it.
 */
export function PolicyField(
  field: keyof typeof POLICY_CHECKS,
  { removable = false } = {},
): PropertyDecorator {
  const schema = POLICY_SCHEMAS[field];
  return applyDecorators(
    ApiPropertyOptional({
      ...schema,
      ...(removable && {
        nullable: true,
        description: `${schema.description} null removes it; left out, it stays.`,
      }),
    }),
    removable ? IsOmittableOrNull() : IsOmittable(),
    SatisfiesPolicy(POLICY_CHECKS[field]),
  );
}

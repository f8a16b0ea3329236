import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ValidationProblemException } from '../common/validation.pipe';
import type { LeakedToken, LeakVerdict } from './leak-response.service';

/** Longer than any token we mint: a longer "token" in a report is refused, not hashed. */
const MAX_TOKEN_LENGTH = 512;
/** Matches in one report; GitHub batches them, each costs a lookup. */
export const MAX_REPORTED_TOKENS = 1000;

/** One match in GitHub's secret scanning report. */
export class GithubLeakReportDto {
  @ApiProperty({ description: 'The token found.', example: 'tak_...' })
  token!: string;

  @ApiProperty({ description: 'The name of the pattern it matched.', example: 'tenant_api_key' })
  type!: string;

  @ApiPropertyOptional({
    description: 'Where it was found.',
    example: 'https://github.com/o/r/blob/…',
  })
  url?: string;

  @ApiPropertyOptional({ description: 'What it was found in.', example: 'content' })
  source?: string;
}

/** Our answer for one match, in GitHub's format: the token by its hash, and whether it was ours. */
export class GithubLeakVerdictDto {
  @ApiProperty({ description: "The token's SHA-256, lowercase hex.", pattern: '^[0-9a-f]{64}$' })
  token_hash!: string;

  @ApiProperty({ description: 'The type the report gave.', example: 'tenant_api_key' })
  token_type!: string;

  @ApiProperty({ enum: ['true_positive', 'false_positive'] })
  label!: 'true_positive' | 'false_positive';
}

const optionalString = (value: unknown) => value === undefined || typeof value === 'string';

/** The matches of a report, or 400 naming the first field that is wrong. Other fields are ignored. */
export function reportedTokens(body: unknown): LeakedToken[] {
  const fail = (field: string, message: string): never => {
    throw new ValidationProblemException([{ field, message }]);
  };
  if (!Array.isArray(body)) return fail('body', 'the report must be a JSON array of matches');
  if (body.length > MAX_REPORTED_TOKENS) {
    fail('body', `a report may hold at most ${MAX_REPORTED_TOKENS} matches`);
  }
  return body.map((match: unknown, i) => {
    const entry = (typeof match === 'object' && match !== null ? match : {}) as Record<
      string,
      unknown
    >;
    const { token, type, url, source } = entry;
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      fail(`[${i}].token`, `token must be a string of 1 to ${MAX_TOKEN_LENGTH} characters`);
    }
    if (!optionalString(type)) fail(`[${i}].type`, 'type must be a string');
    if (!optionalString(url)) fail(`[${i}].url`, 'url must be a string');
    if (!optionalString(source)) fail(`[${i}].source`, 'source must be a string');
    return {
      token: token as string,
      type: type as string | undefined,
      url: url as string | undefined,
      source: source as string | undefined,
    };
  });
}

export function toGithubVerdict(verdict: LeakVerdict): GithubLeakVerdictDto {
  return {
    token_hash: verdict.tokenHash,
    token_type: verdict.tokenType ?? '',
    label: verdict.label,
  };
}

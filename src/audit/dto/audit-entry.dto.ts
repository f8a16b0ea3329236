import { ApiProperty } from '@nestjs/swagger';
import type { AuditEntry } from '../audit-entry';

/** One line of a tenant's audit trail. It never holds a token or a hash. */
export class AuditEntryDto {
  @ApiProperty({ description: 'Position in the log, from 1.', example: 42 })
  seq!: number;

  @ApiProperty({ format: 'date-time', example: '2026-11-29T16:00:00.000Z' })
  time!: string;

  @ApiProperty({ description: 'The X-Request-Id of the request that made the change.' })
  requestId!: string;

  @ApiProperty({
    description: 'api-key:<key name>, bearer:<sub> or cli:operator.',
    example: 'bearer:alice',
  })
  actor!: string;

  @ApiProperty({ enum: ['create', 'update', 'delete'] })
  action!: AuditEntry['action'];

  @ApiProperty({ description: 'The API key changed.', example: 'ci-deploy' })
  key!: string;

  @ApiProperty({
    description: 'Each field that changed, as { from, to }; null where the key did not exist.',
    example: { enabled: { from: true, to: false } },
  })
  changes!: Record<string, { from: unknown; to: unknown }>;

  @ApiProperty({
    description: 'SHA-256 of the previous line: the chain `npm run keys -- audit verify` checks.',
  })
  prev!: string;
}

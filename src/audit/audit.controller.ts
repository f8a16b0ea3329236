import { Controller, Get, Param, Query } from '@nestjs/common';
import {
  ApiInternalServerErrorResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { TENANT_ID_PATTERN } from '../storage/api-key.record';
import { RequireScopes } from '../auth/scopes.decorator';
import { AUDIT_READ } from '../auth/scopes';
import { ProblemDto } from '../common/problem.dto';
import { AuditService } from './audit.service';
import { AuditEntryDto } from './dto/audit-entry.dto';
import { AuditQueryDto } from './dto/audit-query.dto';

const DEFAULT_PAGE = 50;

@ApiTags('AuditLog')
@Controller('api/:tenantId/admin/auditLog')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireScopes(AUDIT_READ)
  @ApiOperation({
    summary: "Read the tenant's audit trail",
    description: `Every create, update and delete of an API key, newest first: when, the request id, who (key name or JWT sub), the action, the key and the fields that changed. Never a token or hash. Each line carries the SHA-256 of the line before, so a truncated or edited log is detectable.\n\nRequires ${AUDIT_READ} scope.`,
  })
  @ApiParam({
    name: 'tenantId',
    example: 'demo',
    schema: { type: 'string', pattern: TENANT_ID_PATTERN.source },
  })
  @ApiOkResponse({ description: 'Audit entries returned, newest first.', type: [AuditEntryDto] })
  @ApiNotFoundResponse({ description: 'The tenant does not exist.', type: ProblemDto })
  @ApiInternalServerErrorResponse({
    description: "The tenant's audit.log cannot be read.",
    type: ProblemDto,
  })
  async list(
    @Param('tenantId') tenantId: string,
    @Query() query: AuditQueryDto,
  ): Promise<AuditEntryDto[]> {
    return this.audit.list(tenantId, query.limit ?? DEFAULT_PAGE, query.before);
  }
}

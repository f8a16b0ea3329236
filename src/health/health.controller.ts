import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Public } from '../auth/scopes.decorator';
import { ProblemDto } from '../common/problem.dto';
import { ApiKeysRepository } from '../storage/api-keys.repository';

/** The service can serve. */
export class HealthDto {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status!: 'ok';
}

@ApiTags('Health')
@Controller('health')
export class HealthController {
  constructor(private readonly storage: ApiKeysRepository) {}

  @Get()
  @Public()
  @ApiOperation({
    summary: 'Health check',
    description:
      'Answers 200 while the key store can serve: TENANTS_DIR readable and writable, or the database reachable and migrated.',
  })
  @ApiOkResponse({ description: 'Ready.', type: HealthDto })
  @ApiServiceUnavailableResponse({ description: 'The key store cannot serve.', type: ProblemDto })
  async check(): Promise<HealthDto> {
    if (!(await this.storage.healthy())) {
      throw new ServiceUnavailableException('the key store cannot serve (TENANTS_DIR or database)');
    }
    return { status: 'ok' };
  }
}

import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { access, constants } from 'node:fs/promises';
import { Public } from '../auth/scopes.decorator';
import { ProblemDto } from '../common/problem.dto';
import { appConfig } from '../config/app.config';

/** The service can serve. */
export class HealthDto {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status!: 'ok';
}

@ApiTags('Health')
@Controller('health')
export class HealthController {
  constructor(@Inject(appConfig.KEY) private readonly config: ConfigType<typeof appConfig>) {}

  @Get()
  @Public()
  @ApiOperation({
    summary: 'Health check',
    description: 'Answers 200 while TENANTS_DIR is readable and writable.',
  })
  @ApiOkResponse({ description: 'Ready.', type: HealthDto })
  @ApiServiceUnavailableResponse({ description: 'TENANTS_DIR is not usable.', type: ProblemDto })
  async check(): Promise<HealthDto> {
    try {
      await access(this.config.tenantsDir, constants.R_OK | constants.W_OK);
    } catch {
      throw new ServiceUnavailableException('TENANTS_DIR is not readable and writable');
    }
    return { status: 'ok' };
  }
}

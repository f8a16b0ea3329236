import { Module } from '@nestjs/common';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { SecurityFileParser } from './security-file-parser';
import { YamlApiKeysRepository } from './yaml-api-keys.repository';

/** The five endpoints over each tenant's security.yml. */
@Module({
  controllers: [ApiKeysController],
  providers: [
    ApiKeysService,
    SecurityFileParser,
    { provide: ApiKeysRepository, useClass: YamlApiKeysRepository },
  ],
  exports: [ApiKeysService, ApiKeysRepository],
})
export class ApiKeysModule {}

import { Module } from '@nestjs/common';
import { ApiKeyStrategy } from './api-key.strategy';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { SecurityFileParser } from './security-file-parser';
import { UsageBuffer } from './usage-buffer';
import { UsageStore } from './usage.store';
import { YamlApiKeysRepository } from './yaml-api-keys.repository';
import { YamlUsageStore } from './yaml-usage.store';

/** The API-key endpoints over each tenant's security.yml, and how an API key authenticates. */
@Module({
  controllers: [ApiKeysController],
  providers: [
    ApiKeysService,
    ApiKeyStrategy,
    UsageBuffer,
    SecurityFileParser,
    { provide: ApiKeysRepository, useClass: YamlApiKeysRepository },
    { provide: UsageStore, useClass: YamlUsageStore },
  ],
  exports: [ApiKeysService, ApiKeyStrategy, UsageBuffer, ApiKeysRepository],
})
export class ApiKeysModule {}

import { Module } from '@nestjs/common';
import { ApiKeyStrategy } from './api-key.strategy';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { KeyRateLimiter } from './key-rate-limiter';
import { UsageBuffer } from './usage-buffer';

/** The API-key endpoints, their rules, and how an API key authenticates. */
@Module({
  controllers: [ApiKeysController],
  providers: [ApiKeysService, ApiKeyStrategy, UsageBuffer, KeyRateLimiter],
  exports: [ApiKeysService, ApiKeyStrategy, UsageBuffer],
})
export class ApiKeysModule {}

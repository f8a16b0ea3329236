import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ApiKeyStrategy } from './api-keys/api-key.strategy';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { ClockModule } from './common/clock';
import { StorageModule } from './storage/storage.module';
import { JsonBodyPipe } from './common/json-body';
import { LoggingModule } from './common/logging.module';
import { ProblemDetailsFilter } from './common/problem-details.filter';
import { ShutdownGate } from './common/shutdown-gate';
import { createValidationPipe } from './common/validation.pipe';
import { AppConfigModule } from './config/config.module';
import { storageConfig } from './config/storage.config';
import { HealthModule } from './health/health.module';
import { LeaksModule } from './leaks/leaks.module';
import { WebhooksModule } from './webhooks/webhooks.module';
import { MetricsModule } from './common/metrics';
import { MetricsEndpointModule } from './metrics/metrics-endpoint.module';
import { VerificationModule } from './verification/verification.module';

/** The service: its features, the storage STORAGE chooses, and the ways in it accepts. */
@Module({})
export class AppModule {
  /** Read when the application is created, so the storage follows the configuration then. */
  static register(): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule,
        ClockModule,
        MetricsModule,
        StorageModule.forBackend(storageConfig().backend),
        LoggingModule,
        // The gateway check first: Express tries routes in the order they were registered,
        // and this one runs on every request of the platform.
        VerificationModule,
        ApiKeysModule,
        AuditModule,
        LeaksModule,
        WebhooksModule,
        AuthModule.forRoot({ imports: [ApiKeysModule], strategies: [ApiKeyStrategy] }),
        HealthModule,
        MetricsEndpointModule,
      ],
      providers: [
        ShutdownGate,
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        // In this order: the body's JSON checks, then its validation against the DTO.
        { provide: APP_PIPE, useClass: JsonBodyPipe },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
    };
  }
}

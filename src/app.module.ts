import { Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { ApiKeyStrategy } from './api-keys/api-key.strategy';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { ClockModule } from './common/clock';
import { StorageModule } from './storage/storage.module';
import { JsonBodyInterceptor } from './common/json-body';
import { LoggingModule } from './common/logging.module';
import { ProblemDetailsFilter } from './common/problem-details.filter';
import { ShutdownGate } from './common/shutdown-gate';
import { createValidationPipe } from './common/validation.pipe';
import { AppConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';

@Module({
  imports: [
    AppConfigModule,
    ClockModule,
    StorageModule,
    LoggingModule,
    ApiKeysModule,
    AuditModule,
    AuthModule.forRoot({ imports: [ApiKeysModule], strategies: [ApiKeyStrategy] }),
    HealthModule,
  ],
  providers: [
    ShutdownGate,
    { provide: APP_FILTER, useClass: ProblemDetailsFilter },
    { provide: APP_INTERCEPTOR, useClass: JsonBodyInterceptor },
    { provide: APP_PIPE, useFactory: createValidationPipe },
  ],
})
export class AppModule {}

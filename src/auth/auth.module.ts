import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { ApiKeyStrategy } from './api-key.strategy';
import { AuthFailureLimiter } from './auth-failure-limiter';
import { AuthenticationGuard } from './authentication.guard';
import { CREDENTIAL_STRATEGIES, type CredentialStrategy } from './credential-strategy';
import { JwtStrategy } from './jwt.strategy';
import { ScopesGuard } from './scopes.guard';

/**
 * Authentication and authorization for every route: AuthenticationGuard then ScopesGuard,
 * both global. A new way in is one more strategy in CREDENTIAL_STRATEGIES.
 */
@Module({
  imports: [ApiKeysModule],
  providers: [
    ApiKeyStrategy,
    JwtStrategy,
    AuthFailureLimiter,
    {
      provide: CREDENTIAL_STRATEGIES,
      useFactory: (jwt: JwtStrategy, apiKeys: ApiKeyStrategy): CredentialStrategy[] => [
        jwt,
        apiKeys,
      ],
      inject: [JwtStrategy, ApiKeyStrategy],
    },
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useClass: ScopesGuard },
  ],
})
export class AuthModule {}

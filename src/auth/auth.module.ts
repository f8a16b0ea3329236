import { type DynamicModule, type ModuleMetadata, Module, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthFailureLimiter } from './auth-failure-limiter';
import { AuthenticationGuard } from './authentication.guard';
import { CREDENTIAL_STRATEGIES, type CredentialStrategy } from './credential-strategy';
import { JwtStrategy } from './jwt.strategy';
import { ScopesGuard } from './scopes.guard';

/**
 * Authentication and authorization for every route: AuthenticationGuard then ScopesGuard,
 * both global. Bearer JWTs are checked here; other ways in are handed over by the app module
 * (with the modules that provide them), so this folder imports no feature.
 */
@Module({})
export class AuthModule {
  static forRoot(options: {
    readonly imports: NonNullable<ModuleMetadata['imports']>;
    readonly strategies: ReadonlyArray<Type<CredentialStrategy>>;
  }): DynamicModule {
    return {
      module: AuthModule,
      // The failure limiter is shared with routes that check credentials themselves (verify).
      global: true,
      imports: options.imports,
      providers: [
        JwtStrategy,
        AuthFailureLimiter,
        {
          provide: CREDENTIAL_STRATEGIES,
          useFactory: (...strategies: CredentialStrategy[]) => strategies,
          inject: [JwtStrategy, ...options.strategies],
        },
        { provide: APP_GUARD, useClass: AuthenticationGuard },
        { provide: APP_GUARD, useClass: ScopesGuard },
      ],
      exports: [AuthFailureLimiter],
    };
  }
}

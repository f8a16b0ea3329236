import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { Request } from 'express';
import { passportJwtSecret } from 'jwks-rsa';
import { Passport } from 'passport';
import { ExtractJwt, Strategy, type StrategyOptionsWithoutRequest } from 'passport-jwt';
import { LruCache } from '../common/lru-cache';
import { authConfig } from '../config/auth.config';
import { type CredentialStrategy, InvalidCredentialsError } from './credential-strategy';
import { principalFromClaims } from './jwt-claims';
import type { Principal } from './principal';

/** Leeway for `exp` and `nbf` against clock drift between the identity provider and us. */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** A JWKS endpoint that does not answer within this is treated as down (401, not a hang). */
export const JWKS_TIMEOUT_MS = 3000;
/** Fetches of the JWKS for kids not in the cache, per minute: unknown-kid floods cannot hammer the IdP. */
export const JWKS_REQUESTS_PER_MINUTE = 10;
const REALM = 'tenant-api-keys';
/** Tokens whose verification is remembered; the least recently used are verified afresh. */
const VERIFIED_TOKENS = 10_000;
/** How long a remembered verification holds at most: about as long as jwks-rsa keeps a key. */
const VERIFIED_FOR_MS = 10 * 60 * 1000;

/** A token that passed verification, what it grants, and the window in which it is valid. */
interface VerifiedToken {
  readonly principal: Principal;
  /** Milliseconds: from `nbf`, to `exp` (each with the clock tolerance), and to the memo's age. */
  readonly notBefore: number;
  readonly until: number;
}

type AuthConfig = ConfigType<typeof authConfig>;

const MISSING_EXPIRY = 'MissingExpiryError';

/**
 * jsonwebtoken's reasons, in our words: its messages may quote the configured issuer or
 * audience (`expected: ...`), which a caller must not learn from us.
 */
function describeInvalid(message: string): string {
  if (message.startsWith('secret or public key')) return 'no signing key matches the token';
  if (message.startsWith('jwt issuer invalid')) return 'the token is not valid: wrong issuer (iss)';
  if (message.startsWith('jwt audience invalid')) {
    return 'the token is not valid: wrong audience (aud)';
  }
  if (message === 'invalid signature') return 'the token is not valid: invalid signature';
  if (message.startsWith('invalid algorithm')) {
    return 'the token is not valid: its algorithm is not accepted';
  }
  if (message === 'jwt malformed' || message.startsWith('invalid token')) {
    return 'the token is not valid: malformed';
  }
  return 'the token is not valid';
}

/** Why a token failed, in words fit for `error_description` (no quotes or backslashes). */
function describe(info: unknown): string {
  const error = info as { name?: string; message?: string } | undefined;
  switch (error?.name) {
    case 'TokenExpiredError':
      return 'the token has expired';
    case 'NotBeforeError':
      return 'the token is not valid yet';
    case 'JsonWebTokenError':
      return describeInvalid(error.message ?? '');
    case MISSING_EXPIRY:
      return 'the token has no expiry (exp)';
    case undefined:
      return 'the bearer token is not valid';
    default:
      // JWKS unreachable, rate limited, or answering garbage.
      return 'the signing key could not be obtained';
  }
}

/**
 * `Authorization: Bearer <jwt>`, verified by passport-jwt: signature (keys from the JWKS URL
 * through jwks-rsa with caching and rate limiting, or a PEM), the algorithm allow-list,
 * `exp`/`nbf`, and `iss`/`aud` when configured.
 */
@Injectable()
export class JwtStrategy implements CredentialStrategy {
  readonly challenge = `Bearer realm="${REALM}"`;
  private readonly logger = new Logger(JwtStrategy.name);
  private readonly passport?: InstanceType<typeof Passport>;
  /**
   * Verifications remembered by the whole token string (its signature included): a client
   * reuses its token for many requests, and checking the same RS256 signature again would
   * give the same answer. Only the times are checked again at each use; failures are never
   * remembered.
   */
  private readonly verified = new LruCache<string, VerifiedToken>(VERIFIED_TOKENS);

  constructor(@Inject(authConfig.KEY) private readonly config: AuthConfig) {
    const strategy = JwtStrategy.createStrategy(config);
    if (!strategy) {
      this.logger.warn(
        'bearer JWT authentication is off: set AUTH_JWKS_URI or AUTH_JWT_PUBLIC_KEY to enable it; only API keys are accepted',
      );
      return;
    }
    this.passport = new Passport();
    this.passport.use('jwt', strategy);
    this.logger.log(
      `bearer JWTs accepted (${config.algorithms.join(', ')}), keys from ${config.jwksUri ?? 'AUTH_JWT_PUBLIC_KEY'}`,
    );
  }

  private static createStrategy(config: AuthConfig): Strategy | undefined {
    const base = {
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: config.algorithms,
      issuer: config.issuer,
      audience: config.audience,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: CLOCK_TOLERANCE_SECONDS },
    };
    let options: StrategyOptionsWithoutRequest;
    if (config.jwksUri) {
      options = {
        ...base,
        secretOrKeyProvider: passportJwtSecret({
          jwksUri: config.jwksUri,
          cache: true,
          cacheMaxAge: 10 * 60 * 1000,
          rateLimit: true,
          jwksRequestsPerMinute: JWKS_REQUESTS_PER_MINUTE,
          timeout: JWKS_TIMEOUT_MS,
        }),
      };
    } else if (config.jwtPublicKey) {
      options = { ...base, secretOrKey: config.jwtPublicKey };
    } else {
      return undefined;
    }
    return new Strategy(options, (payload: Record<string, unknown>, done) => {
      // jsonwebtoken only checks `exp` when present; a token without one would never expire.
      if (typeof payload.exp !== 'number') done(null, false, { name: MISSING_EXPIRY });
      else done(null, payload);
    });
  }

  presentIn(request: Request): boolean {
    return request.headers.authorization !== undefined;
  }

  async authenticate(request: Request): Promise<Principal> {
    if (!this.passport) {
      throw this.invalid('bearer tokens are not accepted: this service has no key to verify them');
    }
    const token = request.headers.authorization;
    const now = Date.now();
    const known = token === undefined ? undefined : this.verified.get(token);
    if (known && now >= known.notBefore && now < known.until) return known.principal;
    const claims = await this.verify(this.passport, request);
    const principal = principalFromClaims(claims, this.config.tenantClaim);
    if (token !== undefined) {
      const tolerance = CLOCK_TOLERANCE_SECONDS * 1000;
      this.verified.set(token, {
        principal,
        notBefore: typeof claims.nbf === 'number' ? claims.nbf * 1000 - tolerance : 0,
        until: Math.min(
          typeof claims.exp === 'number' ? claims.exp * 1000 + tolerance : Infinity,
          now + VERIFIED_FOR_MS,
        ),
      });
    }
    return principal;
  }

  private verify(
    passport: InstanceType<typeof Passport>,
    request: Request,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const handler = passport.authenticate(
        'jwt',
        { session: false },
        (error: unknown, claims: Record<string, unknown> | false, info: unknown) => {
          if (error)
            reject(error instanceof Error ? error : new Error('bearer verification failed'));
          else if (!claims) reject(this.invalid(describe(info)));
          else resolve(claims);
        },
      ) as (req: Request, res: unknown, next: (error?: unknown) => void) => void;
      handler(request, request.res, reject);
    });
  }

  private invalid(description: string): InvalidCredentialsError {
    return new InvalidCredentialsError(
      description,
      `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`,
    );
  }
}

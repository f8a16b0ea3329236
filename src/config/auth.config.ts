import { registerAs } from '@nestjs/config';
import { ConfigError, Environment } from './environment';

/** Asymmetric JWS algorithms jsonwebtoken verifies; `none` and the HMAC family are never accepted. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
] as const;
export type JwtAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

function algorithms(env: Environment): JwtAlgorithm[] {
  const listed = env
    .string('AUTH_JWT_ALGORITHMS', 'RS256')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of listed) {
    if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(name)) {
      throw new ConfigError(
        `AUTH_JWT_ALGORITHMS may only list ${ASYMMETRIC_ALGORITHMS.join(', ')} (got "${name}")`,
      );
    }
  }
  if (listed.length === 0) throw new ConfigError('AUTH_JWT_ALGORITHMS must list an algorithm');
  return listed as JwtAlgorithm[];
}

function publicKey(env: Environment): string | undefined {
  // Container environments often carry PEMs on one line with literal "\n".
  const pem = env.optional('AUTH_JWT_PUBLIC_KEY')?.replace(/\\n/g, '\n');
  if (pem !== undefined && !/-----BEGIN (RSA )?PUBLIC KEY-----/.test(pem)) {
    throw new ConfigError(
      'AUTH_JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----)',
    );
  }
  return pem;
}

/** How callers authenticate: bearer JWT verification and the OAuth2 settings shown in Swagger UI. */
export const authConfig = registerAs('auth', () => {
  const env = new Environment(process.env);
  return {
    jwksUri: env.url('AUTH_JWKS_URI'),
    jwtPublicKey: publicKey(env),
    issuer: env.optional('AUTH_ISSUER'),
    audience: env.optional('AUTH_AUDIENCE'),
    algorithms: algorithms(env),
    tenantClaim: env.string('AUTH_TENANT_CLAIM', 'tenant'),
    oauth2AuthorizationUrl: env.url('OAUTH2_AUTHORIZATION_URL'),
    /** With it, Swagger UI also offers the authorization code flow with PKCE. */
    oauth2TokenUrl: env.url('OAUTH2_TOKEN_URL'),
    swaggerClientId: env.optional('SWAGGER_OAUTH2_CLIENT_ID'),
    /** Failed authentications per client address per window before 429. */
    failureLimit: env.integer('AUTH_FAILURE_LIMIT', 30, 1, 1_000_000),
    failureWindowSeconds: env.integer('AUTH_FAILURE_WINDOW', 60, 1, 86_400),
  };
});

// A real OpenID Connect provider for the browser spec: the npm package oidc-provider (certified),
// on 127.0.0.1, with one public client for Swagger UI (authorization code with PKCE S256), its
// built-in login and consent pages, and RS256 JWT access tokens for the service (resource
// indicators) that carry the tenant claim. It is ESM-only, hence a process of its own.
//
//   node test/support/oidc-provider.mjs <port> <redirect URI> <audience> <tenant>
// prints "issuer <url>" once it listens.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors } from 'oidc-provider';

const [port, redirectUri, audience, tenant] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const resource = `urn:${audience}`;
const scope = 'tenant.apiKey:read tenant.apiKey:write tenant.audit:read';
const origin = new URL(redirectUri).origin;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: 'idp-1',
  use: 'sig',
  alg: 'RS256',
};

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [
    {
      client_id: 'swagger-ui',
      token_endpoint_auth_method: 'none',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  pkce: { required: () => true },
  // Swagger UI fetches the token from the page's origin.
  clientBasedCORS: (_ctx, requestOrigin) => requestOrigin === origin,
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  extraTokenClaims: () => ({ tenant }),
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return { scope, audience, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
});

const server = createServer(provider.callback());
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`issuer ${issuer}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

import type { INestApplication } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import {
  DocumentBuilder,
  getSchemaPath,
  type OAuthFlowsObject,
  type OpenAPIObject,
  SwaggerModule,
} from '@nestjs/swagger';
import type { RequestHandler } from 'express';
import { ProblemDto } from './common/problem.dto';
import { API_KEY_SCHEME, OAUTH2_SCHEME } from './auth/scopes.decorator';
import { SCOPE_DESCRIPTIONS } from './auth/scopes';
import { authConfig } from './config/auth.config';

/** Shown when OAUTH2_AUTHORIZATION_URL is unset: the scheme is documented, but cannot be used. */
const UNCONFIGURED_AUTHORIZATION_URL =
  'https://authorization-url.invalid/set-OAUTH2_AUTHORIZATION_URL';

/**
 * The implicit flow, which the reference asks for and some providers still allow; and, once a
 * token URL is configured, the authorization code flow with PKCE, which RFC 9700 recommends
 * instead (Swagger UI then sends a code challenge, and no client secret).
 */
function oauth2Flows(auth: ConfigType<typeof authConfig>): OAuthFlowsObject {
  const authorizationUrl = auth.oauth2AuthorizationUrl ?? UNCONFIGURED_AUTHORIZATION_URL;
  const flows: OAuthFlowsObject = { implicit: { authorizationUrl, scopes: SCOPE_DESCRIPTIONS } };
  if (auth.oauth2TokenUrl) {
    flows.authorizationCode = {
      authorizationUrl,
      tokenUrl: auth.oauth2TokenUrl,
      scopes: SCOPE_DESCRIPTIONS,
    };
  }
  return flows;
}

/**
 * Swagger UI derives its OAuth2 redirect from the page's path, so `/docs` (no slash) would
 * send `/oauth2-redirect.html`, which no realm registers: `/docs` is sent on to `/docs/`
 * (relative, so it holds behind a proxy's path prefix), whose redirect is
 * `/docs/oauth2-redirect.html`.
 */
export function docsTrailingSlash(): RequestHandler {
  return (request, response, next) => {
    // Mounted at /docs: only the page's own paths come here, not every request.
    const [path, query] = request.originalUrl.split(/\?(.*)/s);
    if (path !== '/docs') {
      next();
      return;
    }
    response.redirect(301, `docs/${query ? `?${query}` : ''}`);
  };
}

type HeaderObject = { description: string; schema: { type: 'string' } };
const header = (description: string): HeaderObject => ({ description, schema: { type: 'string' } });
const REQUEST_ID = header('The request id: the one sent, when well-formed, or a new UUID.');
const RETRY_AFTER = header('Seconds to wait before trying again.');
const CHALLENGE = header(
  'The schemes a client can answer (401), or, to a bearer without the scope, RFC 6750 insufficient_scope (403).',
);

/**
 * What holds for every operation, said once instead of on each: errors are RFC 9457 problems
 * served as `application/problem+json`; every response carries `X-Request-Id`; 401 and 403
 * carry `WWW-Authenticate`, 429 and 503 `Retry-After`; an operation without security
 * requirements is public (`security: []`).
 */
function completeDocument(document: OpenAPIObject): OpenAPIObject {
  const problem = { schema: { $ref: getSchemaPath(ProblemDto) } };
  for (const item of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = item[method];
      if (!operation) continue;
      operation.security ??= [];
      for (const [status, response] of Object.entries(operation.responses)) {
        if (!response || !('description' in response)) continue;
        const headers: Record<string, HeaderObject> = { 'X-Request-Id': REQUEST_ID };
        if (status === '401' || status === '403') headers['WWW-Authenticate'] = CHALLENGE;
        if (status === '429' || status === '503') headers['Retry-After'] = RETRY_AFTER;
        response.headers = { ...response.headers, ...headers };
        if (Number(status) >= 400) response.content = { 'application/problem+json': problem };
      }
    }
  }
  return document;
}

/** Swagger UI at /docs/ and the OpenAPI document at /docs-json, generated from the code. */
export function setupSwagger(app: INestApplication): void {
  const auth = app.get<ConfigType<typeof authConfig>>(authConfig.KEY);
  const config = new DocumentBuilder()
    .setTitle('tenant-api-keys')
    .setDescription(
      "Each tenant manages its API keys. Keys are stored as SHA-256 hashes in the tenant's security.yml; the plaintext token is shown once, at creation. Authenticate with an OAuth2 bearer token or with an API key of the same tenant (X-API-Key). Errors are RFC 9457 problem details.",
    )
    .setVersion('1.0')
    .addServer('/', 'This service, where this document is served')
    .addTag('ApiKeys', "A tenant's API keys: list, create, read, update, delete")
    .addTag('AuditLog', "A tenant's audit trail of key changes")
    .addTag('Health', 'Whether the service can serve')
    .addTag('Verification', 'For gateways: whether an API key may call an upstream API')
    .addTag('SecretScanning', 'Leaked tokens reported by secret scanners, revoked by themselves')
    .addOAuth2({ type: 'oauth2', flows: oauth2Flows(auth) }, OAUTH2_SCHEME)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, API_KEY_SCHEME)
    .build();
  const document = completeDocument(
    SwaggerModule.createDocument(app, config, { extraModels: [ProblemDto] }),
  );
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: {
      initOAuth: {
        clientId: auth.swaggerClientId,
        scopes: Object.keys(SCOPE_DESCRIPTIONS),
        usePkceWithAuthorizationCodeGrant: true,
      },
    },
  });
}

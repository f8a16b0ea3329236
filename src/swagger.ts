import type { INestApplication } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { API_KEY_SCHEME, OAUTH2_SCHEME } from './auth/scopes.decorator';
import { SCOPE_DESCRIPTIONS } from './auth/scopes';
import { authConfig } from './config/auth.config';

/** Shown when OAUTH2_AUTHORIZATION_URL is unset: the scheme is documented, but cannot be used. */
const UNCONFIGURED_AUTHORIZATION_URL =
  'https://authorization-url.invalid/set-OAUTH2_AUTHORIZATION_URL';

/** Swagger UI at /docs and the OpenAPI document at /docs-json, generated from the code. */
export function setupSwagger(app: INestApplication): void {
  const auth = app.get<ConfigType<typeof authConfig>>(authConfig.KEY);
  const config = new DocumentBuilder()
    .setTitle('tenant-api-keys')
    .setDescription(
      "Each tenant manages its API keys. Keys are stored as SHA-256 hashes in the tenant's security.yml; the plaintext token is shown once, at creation. Authenticate with an OAuth2 bearer token or with an API key of the same tenant (X-API-Key). Errors are RFC 9457 problem details.",
    )
    .setVersion('1.0')
    .addOAuth2(
      {
        type: 'oauth2',
        flows: {
          implicit: {
            authorizationUrl: auth.oauth2AuthorizationUrl ?? UNCONFIGURED_AUTHORIZATION_URL,
            scopes: SCOPE_DESCRIPTIONS,
          },
        },
      },
      OAUTH2_SCHEME,
    )
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, API_KEY_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: {
      initOAuth: {
        clientId: auth.swaggerClientId,
        scopes: Object.keys(SCOPE_DESCRIPTIONS),
      },
    },
  });
}

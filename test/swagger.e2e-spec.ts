import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { startApp } from './support/app';
import { TenantsFixture } from './support/tenants';

describe('Swagger docs (e2e)', () => {
  let tenants: TenantsFixture;
  let app: INestApplication<App>;
  let doc: any;

  beforeAll(async () => {
    tenants = await TenantsFixture.create();
    app = await startApp({
      TENANTS_DIR: tenants.root,
      OAUTH2_AUTHORIZATION_URL: 'https://idp.example/realms/t/protocol/openid-connect/auth',
      OAUTH2_TOKEN_URL: 'https://idp.example:8443/realms/t/protocol/openid-connect/token',
      SWAGGER_OAUTH2_CLIENT_ID: 'swagger-ui',
    });
    doc = (await request(app.getHttpServer()).get('/docs-json').expect(200)).body;
  });

  afterAll(async () => {
    await app.close();
    await tenants.remove();
  });

  it('sends /docs on to /docs/, so that Swagger UI redirects sign-ins to /docs/oauth2-redirect.html', async () => {
    const bare = await request(app.getHttpServer()).get('/docs').expect(301);
    expect(bare.headers.location).toBe('docs/');
    const withQuery = await request(app.getHttpServer()).get('/docs?x=1').expect(301);
    expect(withQuery.headers.location).toBe('docs/?x=1');
  });

  it('offers the code flow with PKCE, and lets the page reach the token URL and nothing else', async () => {
    expect(doc.components.securitySchemes.oauth2.flows.authorizationCode).toEqual({
      authorizationUrl: 'https://idp.example/realms/t/protocol/openid-connect/auth',
      tokenUrl: 'https://idp.example:8443/realms/t/protocol/openid-connect/token',
      scopes: doc.components.securitySchemes.oauth2.flows.implicit.scopes,
    });
    const init = await request(app.getHttpServer()).get('/docs/swagger-ui-init.js').expect(200);
    expect(init.text).toContain('"usePkceWithAuthorizationCodeGrant": true');
    const page = await request(app.getHttpServer()).get('/docs/').expect(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp.split(';')).toContain("connect-src 'self' https://idp.example:8443");
  });

  it('serves Swagger UI and the OAuth2 redirect page', async () => {
    const ui = await request(app.getHttpServer()).get('/docs/').expect(200);
    expect(ui.text).toContain('swagger');
    const init = await request(app.getHttpServer()).get('/docs/swagger-ui-init.js').expect(200);
    expect(init.text).toContain('"clientId": "swagger-ui"');
    await request(app.getHttpServer()).get('/docs/oauth2-redirect.html').expect(200);
  });

  it('declares the OAuth2 implicit flow with both scopes and the X-API-Key scheme', () => {
    const schemes = doc.components.securitySchemes;
    expect(schemes.oauth2.flows.implicit).toEqual({
      authorizationUrl: 'https://idp.example/realms/t/protocol/openid-connect/auth',
      scopes: {
        'tenant.apiKey:read': expect.any(String),
        'tenant.apiKey:write': expect.any(String),
        'tenant.audit:read': expect.any(String),
      },
    });
    expect(schemes['api-key']).toEqual({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
  });

  const operations = [
    [
      'get',
      '/api/{tenantId}/admin/apiKeys',
      'List API keys for the tenant',
      'tenant.apiKey:read',
      ['200', '400', '401', '403', '404', '429', '500', '503'],
    ],
    [
      'post',
      '/api/{tenantId}/admin/apiKeys',
      'Create a new API key',
      'tenant.apiKey:write',
      ['201', '400', '401', '403', '404', '409', '413', '415', '429', '500', '503', '507'],
    ],
    [
      'get',
      '/api/{tenantId}/admin/apiKeys/{keyName}',
      'Get a specific API key',
      'tenant.apiKey:read',
      ['200', '400', '401', '403', '404', '429', '500', '503'],
    ],
    [
      'put',
      '/api/{tenantId}/admin/apiKeys/{keyName}',
      'Update an API key',
      'tenant.apiKey:write',
      ['200', '400', '401', '403', '404', '412', '413', '415', '429', '500', '503', '507'],
    ],
    [
      'delete',
      '/api/{tenantId}/admin/apiKeys/{keyName}',
      'Delete an API key',
      'tenant.apiKey:write',
      ['204', '400', '401', '403', '404', '412', '429', '500', '503', '507'],
    ],
  ] as const;

  it.each(operations)('documents %s %s', (method, path, summary, scope, statuses) => {
    const op = doc.paths[path][method];
    expect(op.summary).toBe(summary);
    expect(op.description).toContain(`Requires ${scope} scope.`);
    expect(op.security).toEqual(expect.arrayContaining([{ oauth2: [scope] }, { 'api-key': [] }]));
    expect(Object.keys(op.responses).sort()).toEqual([...statuses].sort());
    const tenant = op.parameters.find((p: any) => p.name === 'tenantId');
    expect(tenant.schema.pattern).toBeDefined();
    if (path.includes('keyName')) {
      const keyName = op.parameters.find((p: any) => p.name === 'keyName');
      expect(keyName.schema.pattern).toBe('^[A-Za-z0-9._-]{1,128}$');
    }
  });

  it('documents the audit log under tenant.audit:read with its paging parameters', () => {
    const op = doc.paths['/api/{tenantId}/admin/auditLog'].get;
    expect(op.description).toContain('Requires tenant.audit:read scope.');
    expect(op.security).toEqual(expect.arrayContaining([{ oauth2: ['tenant.audit:read'] }]));
    expect(op.parameters.map((p: any) => p.name).sort()).toEqual(['before', 'limit', 'tenantId']);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '401', '403', '404']));
  });

  it('describes the body errors on create, not only the credential clash', () => {
    const post = doc.paths['/api/{tenantId}/admin/apiKeys'].post;
    expect(post.responses['400'].description).toMatch(/malformed JSON/);
  });

  it('describes the bodies with the name pattern, lengths and examples, and never a hash', () => {
    const schemas = doc.components.schemas;
    expect(schemas.CreateApiKeyDto.required).toEqual(['name']);
    expect(schemas.CreateApiKeyDto.properties.name).toMatchObject({
      pattern: '^[A-Za-z0-9._-]{1,128}$',
      minLength: 1,
      maxLength: 128,
      example: 'ci-deploy',
    });
    expect(schemas.CreateApiKeyDto.properties.permissions.items.pattern).toBeDefined();
    expect(schemas.UpdateApiKeyDto.required).toEqual(['enabled']);
    expect(schemas.CreatedApiKeyDto.properties.token).toBeDefined();
    expect(JSON.stringify(schemas.ApiKeyDto)).not.toContain('hash"');
    expect(schemas.ProblemDto.properties).toHaveProperty('detail');
  });
});

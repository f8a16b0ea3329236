import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { SCOPE_DESCRIPTIONS } from '../src/auth/scopes';

const ROOT = join(__dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe('deployment files', () => {
  const compose = load(read('docker-compose.yml')) as any;
  const realm = JSON.parse(read('deploy/keycloak/realm-tenants.json'));
  const service = compose.services['tenant-api-keys'];
  const keycloak = compose.services.keycloak;
  const env: Record<string, string> = service.environment;

  it('passes the Compose specification schema (dclint, offline)', async () => {
    const dclint = join(ROOT, 'node_modules', 'dclint', 'bin', 'dclint.cjs');
    const { stdout } = await promisify(execFile)(process.execPath, [dclint, 'docker-compose.yml'], {
      cwd: ROOT,
    });
    expect(stdout).not.toMatch(/error/);
  });

  it('runs the service from the Dockerfile with ./tenants mounted and a /health healthcheck', () => {
    expect(service.build).toBe('.');
    expect(service.volumes).toContain(`./tenants:${env.TENANTS_DIR}`);
    expect(service.healthcheck.test.join(' ')).toContain('/health');
    expect(service.depends_on.keycloak.condition).toBe('service_healthy');
  });

  it('sets only configuration variables the README documents', () => {
    const documented = new Set(
      [...read('README.md').matchAll(/^\| `([A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]),
    );
    expect(Object.keys(env).filter((name) => !documented.has(name))).toEqual([]);
  });

  it('points the service at the realm: JWKS, issuer, authorization URL, audience, tenant claim', () => {
    const issuer = `${keycloak.environment.KC_HOSTNAME}/realms/${realm.realm}`;
    expect(keycloak.command).toContain('--import-realm');
    expect(keycloak.volumes[0]).toMatch(
      /^\.\/deploy\/keycloak\/realm-tenants\.json:\/opt\/keycloak\/data\/import\//,
    );
    expect(env.AUTH_ISSUER).toBe(issuer);
    expect(env.AUTH_JWKS_URI).toBe(
      `http://keycloak:8080/realms/${realm.realm}/protocol/openid-connect/certs`,
    );
    expect(env.OAUTH2_AUTHORIZATION_URL).toBe(`${issuer}/protocol/openid-connect/auth`);
    expect(env.OAUTH2_TOKEN_URL).toBe(`${issuer}/protocol/openid-connect/token`);

    const client = realm.clients.find((c: any) => c.clientId === env.SWAGGER_OAUTH2_CLIENT_ID);
    // The code flow with PKCE S256 required, and the implicit flow for the reference's sake.
    expect(client).toMatchObject({
      publicClient: true,
      implicitFlowEnabled: true,
      standardFlowEnabled: true,
      attributes: { 'pkce.code.challenge.method': 'S256' },
    });
    const published = service.ports[0].split(':').at(-2);
    expect(client.redirectUris).toContain(
      `http://localhost:${published}/docs/oauth2-redirect.html`,
    );

    for (const scope of Object.keys(SCOPE_DESCRIPTIONS)) {
      const defined = realm.clientScopes.find((s: any) => s.name === scope);
      expect(defined.attributes['include.in.token.scope']).toBe('true');
      expect([...client.defaultClientScopes, ...client.optionalClientScopes]).toContain(scope);
    }

    const mapper = (type: string) =>
      client.protocolMappers.find((m: any) => m.protocolMapper === type);
    expect(mapper('oidc-usermodel-attribute-mapper').config).toMatchObject({
      'user.attribute': 'tenant',
      'claim.name': env.AUTH_TENANT_CLAIM,
      'access.token.claim': 'true',
    });
    expect(mapper('oidc-audience-mapper').config).toMatchObject({
      'included.custom.audience': env.AUTH_AUDIENCE,
      'access.token.claim': 'true',
    });
  });

  it('has a demo user for tenants/demo', () => {
    const demo = realm.users.find((u: any) => u.username === 'demo');
    expect(demo.attributes.tenant).toEqual(['demo']);
    expect(existsSync(join(ROOT, 'tenants', 'demo'))).toBe(true);
    const profile = JSON.parse(
      realm.components['org.keycloak.userprofile.UserProfileProvider'][0].config[
        'kc.user.profile.config'
      ][0],
    );
    expect(profile.attributes.map((a: any) => a.name)).toContain('tenant');
  });

  it('builds a multi-stage, non-root image on a current Node LTS, without node_modules or tenants', () => {
    const dockerfile = read('Dockerfile');
    const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const image of stages) expect(image).toMatch(/^node:(22|24)\b/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/health/m);
    const ignored = read('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'tenants']));
  });
});

describe('deployment with PostgreSQL: two replicas behind nginx (deploy/compose.postgres.yml)', () => {
  const compose = load(read('deploy/compose.postgres.yml')) as any;
  const replicas = ['api-a', 'api-b'].map((name) => compose.services[name]);

  it('passes the Compose specification schema (dclint, offline)', async () => {
    const dclint = join(ROOT, 'node_modules', 'dclint', 'bin', 'dclint.cjs');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [dclint, 'deploy/compose.postgres.yml'],
      { cwd: ROOT },
    );
    expect(stdout).not.toMatch(/error/);
  });

  it('points both replicas at the one database, with its credentials, once it is healthy', () => {
    const db = compose.services.postgres.environment;
    for (const replica of replicas) {
      expect(replica.environment.STORAGE).toBe('postgres');
      expect(replica.environment.DATABASE_URL).toBe(
        `postgres://${db.POSTGRES_USER}:${db.POSTGRES_PASSWORD}@postgres:5432/${db.POSTGRES_DB}`,
      );
      expect(replica.depends_on.postgres.condition).toBe('service_healthy');
    }
  });

  it('balances nginx over both replicas, and sets only documented variables', () => {
    const conf = read('deploy/nginx/replicas.conf');
    expect(conf).toMatch(/server api-a:3000/);
    expect(conf).toMatch(/server api-b:3000/);
    expect(compose.services.gateway.volumes[0]).toMatch(/^\.\/nginx\/replicas\.conf:/);
    const documented = new Set(
      [...read('README.md').matchAll(/^\| `([A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]),
    );
    for (const replica of replicas) {
      expect(Object.keys(replica.environment).filter((name) => !documented.has(name))).toEqual([]);
    }
  });
});

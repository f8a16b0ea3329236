import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appConfig } from './app.config';
import { authConfig } from './auth.config';
import { storageConfig } from './storage.config';
import { ConfigError, Environment } from './environment';

describe('configuration', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  const failure = (load: () => unknown): string => {
    try {
      load();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('reads the defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    process.env = { TENANTS_DIR: dir };
    expect(appConfig()).toEqual({
      port: 3000,
      host: '0.0.0.0',
      tenantsDir: dir,
      logLevel: 'info',
      tenantCacheSize: 1000,
      trustProxy: false,
      usageFlushSeconds: 60,
    });
    expect(authConfig()).toMatchObject({
      algorithms: ['RS256'],
      tenantClaim: 'tenant',
      failureLimit: 30,
      failureWindowSeconds: 60,
    });
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT must be an integer/],
    [{ PORT: '70000' }, /^PORT must be an integer/],
    [{ TENANTS_DIR: '/does/not/exist' }, /^TENANTS_DIR must name an existing directory/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of/],
    [{ TENANT_CACHE_SIZE: '0' }, /^TENANT_CACHE_SIZE/],
    [{ USAGE_FLUSH_SECONDS: '0' }, /^USAGE_FLUSH_SECONDS/],
  ])('refuses %j with a one-line message naming the variable', (env, message) => {
    process.env = { TENANTS_DIR: tmpdir(), ...env };
    const text = failure(() => appConfig());
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  it('refuses a TENANTS_DIR that is a file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'f');
    writeFileSync(file, '');
    process.env = { TENANTS_DIR: file };
    expect(failure(() => appConfig())).toMatch(/^TENANTS_DIR must name a directory/);
  });

  it.each([
    [{ AUTH_JWT_ALGORITHMS: 'HS256' }, /^AUTH_JWT_ALGORITHMS/],
    [{ AUTH_JWT_ALGORITHMS: 'RS256,none' }, /^AUTH_JWT_ALGORITHMS/],
    [{ AUTH_JWKS_URI: 'not a url' }, /^AUTH_JWKS_URI/],
    [{ AUTH_JWKS_URI: 'file:///etc/passwd' }, /^AUTH_JWKS_URI/],
    [{ OAUTH2_AUTHORIZATION_URL: 'nope' }, /^OAUTH2_AUTHORIZATION_URL/],
    [{ AUTH_JWT_PUBLIC_KEY: 'abc' }, /^AUTH_JWT_PUBLIC_KEY/],
    [{ AUTH_FAILURE_LIMIT: '0' }, /^AUTH_FAILURE_LIMIT/],
    [{ AUTH_FAILURE_WINDOW: 'soon' }, /^AUTH_FAILURE_WINDOW/],
  ])('refuses auth setting %j', (env, message) => {
    process.env = { ...env };
    expect(failure(() => authConfig())).toMatch(message);
  });

  it.each([
    [{ STORAGE: 'postgres' }, /^DATABASE_URL is required with STORAGE=postgres/],
    [
      { STORAGE: 'postgres', DATABASE_URL: 'not a url' },
      /^DATABASE_URL must be a postgres:\/\/ URL/,
    ],
    [
      { STORAGE: 'postgres', DATABASE_URL: 'mysql://h/db' },
      /^DATABASE_URL must be a postgres:\/\/ URL/,
    ],
    [{ STORAGE: 'sqlite' }, /^STORAGE must be one of yaml, postgres/],
  ])('refuses storage setting %j with one line', (env, message) => {
    process.env = { ...env };
    expect(failure(() => storageConfig())).toMatch(message);
  });

  it('needs no TENANTS_DIR with STORAGE=postgres', () => {
    process.env = {
      STORAGE: 'postgres',
      DATABASE_URL: 'postgres://u:p@h:5432/db',
      TENANTS_DIR: '/nope',
    };
    expect(storageConfig()).toEqual({
      backend: 'postgres',
      databaseUrl: 'postgres://u:p@h:5432/db',
      authCacheMs: 0,
    });
    expect(() => appConfig()).not.toThrow();
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
    ['loopback, 10.0.0.0/8', 'loopback, 10.0.0.0/8'],
  ])('reads TRUST_PROXY=%s as %j', (value, expected) => {
    process.env = { TENANTS_DIR: tmpdir(), TRUST_PROXY: value };
    expect(appConfig().trustProxy).toEqual(expected);
  });

  it('treats blank values as unset', () => {
    expect(new Environment({ PORT: '  ' }).integer('PORT', 3000, 0, 65535)).toBe(3000);
  });
});

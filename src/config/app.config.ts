import { registerAs } from '@nestjs/config';
import { Environment } from './environment';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Where the service listens, where the tenants live, and how it logs. */
export const appConfig = registerAs('app', () => {
  const env = new Environment(process.env);
  return {
    port: env.integer('PORT', 3000, 0, 65535),
    host: env.string('HOST', '0.0.0.0'),
    tenantsDir: env.directory('TENANTS_DIR', './tenants'),
    logLevel: env.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    /** Parsed tenants kept in memory; the least recently used are dropped beyond this. */
    tenantCacheSize: env.integer('TENANT_CACHE_SIZE', 1000, 1, 1_000_000),
  };
});

import { registerAs } from '@nestjs/config';
import { resolve } from 'node:path';
import { Environment } from './environment';

/**
 * Express's `trust proxy`: unset or false trusts no proxy (the socket's address is the
 * client's); true trusts every hop; a number trusts that many hops; anything else is a comma
 * list of addresses or subnets (`loopback`, `10.0.0.0/8`, ...).
 */
function trustProxy(env: Environment): boolean | number | string {
  const raw = env.optional('TRUST_PROXY');
  if (raw === undefined) return false;
  if (/^\d+$/.test(raw)) return Number(raw);
  if (/^(true|false|yes|no|on|off)$/i.test(raw)) return env.boolean('TRUST_PROXY');
  return raw;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Where the service listens, where the tenants live, and how it logs. */
export const appConfig = registerAs('app', () => {
  const env = new Environment(process.env);
  return {
    port: env.integer('PORT', 3000, 0, 65535),
    host: env.string('HOST', '0.0.0.0'),
    // Only the YAML store uses the folder, so only it requires one.
    tenantsDir:
      env.optional('STORAGE') === 'postgres'
        ? resolve(env.string('TENANTS_DIR', './tenants'))
        : env.directory('TENANTS_DIR', './tenants'),
    logLevel: env.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    /** Parsed tenants kept in memory; the least recently used are dropped beyond this. */
    tenantCacheSize: env.integer('TENANT_CACHE_SIZE', 1000, 1, 1_000_000),
    trustProxy: trustProxy(env),
    /** How often last-used times are written, per tenant, at most. */
    usageFlushSeconds: env.integer('USAGE_FLUSH_SECONDS', 60, 1, 86_400),
  };
});

import { registerAs } from '@nestjs/config';
import { ConfigError, Environment } from './environment';

export const STORAGE_BACKENDS = ['yaml', 'postgres'] as const;
export type StorageBackend = (typeof STORAGE_BACKENDS)[number];

function databaseUrl(env: Environment, backend: StorageBackend): string | undefined {
  const raw = env.optional('DATABASE_URL');
  if (backend !== 'postgres') return raw;
  if (raw === undefined) throw new ConfigError('DATABASE_URL is required with STORAGE=postgres');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      'DATABASE_URL must be a postgres:// URL (e.g. postgres://user:pass@host:5432/db)',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`DATABASE_URL must be a postgres:// URL (got "${url.protocol}")`);
  }
  return raw;
}

/** Where keys live: the per-tenant YAML files (the default) or PostgreSQL. */
export const storageConfig = registerAs('storage', () => {
  const env = new Environment(process.env);
  const backend = env.oneOf<StorageBackend>('STORAGE', 'yaml', STORAGE_BACKENDS);
  return {
    backend,
    databaseUrl: databaseUrl(env, backend),
    /** With postgres: how old a cached key may be when it authenticates (0: never cached). */
    authCacheMs: env.integer('AUTH_CACHE_MS', 0, 0, 600_000),
  };
});

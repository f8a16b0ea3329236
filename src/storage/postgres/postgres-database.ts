import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { DatabaseError, Pool, type PoolClient, type QueryResultRow } from 'pg';
import { storageConfig } from '../../config/storage.config';
import { StorageUnavailableError } from '../storage.errors';
import { migrate } from './migrations';

/** How often the schema is tried again while the database cannot be reached. */
const RETRY_MS = 1000;

/** SQLSTATE classes of errors that mean the database cannot be used now, not that the query is wrong. */
const UNAVAILABLE_STATES = /^(08|53|57P|58)/;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

/**
 * Whether `error` says the database cannot be reached (refused, reset, timed out, terminated,
 * shutting down), rather than refusing a statement or being the caller's own error.
 */
function isUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseError) return UNAVAILABLE_STATES.test(error.code ?? '');
  if (!(error instanceof Error)) return false;
  if (NETWORK_CODES.has((error as NodeJS.ErrnoException).code ?? '')) return true;
  return /Connection terminated|connection error|Query read timeout/i.test(error.message);
}

/**
 * The connection pool to DATABASE_URL. The process starts even while the database is down: the
 * schema is migrated in the background, tried again every second, and until it is, and
 * whenever the database cannot be reached, queries fail with StorageUnavailableError (503),
 * never with an answer from a copy that may be stale. Service resumes on its own.
 */
@Injectable()
export class PostgresDatabase implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PostgresDatabase.name);
  private readonly pool: Pool;
  private migrated = false;
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(@Inject(storageConfig.KEY) config: ConfigType<typeof storageConfig>) {
    this.pool = new Pool({
      connectionString: config.databaseUrl,
      max: 10,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client that loses its connection must not take the process down.
    this.pool.on('error', (error) =>
      this.logger.warn(`database connection lost: ${error.message}`),
    );
  }

  /**
   * Tries the schema once before the application is up (a database that is there is used from
   * the first request on, by the CLI too); if it cannot, the process starts anyway and keeps
   * trying in the background.
   */
  async onModuleInit(): Promise<void> {
    if (!(await this.tryToMigrate())) void this.migrateUntilDone();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.pool.end().catch(() => undefined);
  }

  /** Whether the schema is in place and the database answers. */
  async healthy(): Promise<boolean> {
    if (!this.migrated) return false;
    return this.pool.query('SELECT 1').then(
      () => true,
      () => false,
    );
  }

  /**
   * Runs one statement; `name` makes it a prepared statement (parsed and planned once per
   * connection), for the statements every request runs.
   */
  async query<R extends QueryResultRow>(
    text: string,
    values: unknown[] = [],
    name?: string,
  ): Promise<R[]> {
    return this.withClient(async (client) => (await client.query<R>({ name, text, values })).rows);
  }

  /**
   * Runs `work` in one transaction and commits it; rolls back if it throws. A connection lost
   * at any point, the COMMIT included (whose outcome is then unknown), is StorageUnavailableError.
   */
  transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      let result: T;
      try {
        result = await work(client);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      await client.query('COMMIT');
      return result;
    });
  }

  /** Runs `use` on one connection of its own (for a session-level lock), released after. */
  session<T>(use: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(use);
  }

  private async withClient<T>(use: (client: PoolClient) => Promise<T>): Promise<T> {
    if (!this.migrated) throw new StorageUnavailableError('the database is not reachable yet');
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw new StorageUnavailableError(error instanceof Error ? error.message : 'no connection');
    }
    let broken = false;
    try {
      return await use(client);
    } catch (error) {
      if (
        isUnavailable(error) &&
        !(error instanceof DatabaseError && !UNAVAILABLE_STATES.test(error.code ?? ''))
      ) {
        broken = true;
        throw new StorageUnavailableError(error instanceof Error ? error.message : 'lost');
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private async tryToMigrate(): Promise<boolean> {
    try {
      const client = await this.pool.connect();
      try {
        const applied = await migrate(client);
        if (applied.length > 0) this.logger.log(`applied migrations ${applied.join(', ')}`);
        this.migrated = true;
      } finally {
        client.release();
      }
    } catch (error) {
      this.logger.warn(
        `database not ready (${error instanceof Error ? error.message : String(error)}); retrying`,
      );
    }
    return this.migrated;
  }

  private async migrateUntilDone(): Promise<void> {
    while (!this.closed && !(await this.tryToMigrate())) {
      await new Promise((resolve) => {
        this.retry = setTimeout(resolve, RETRY_MS);
        this.retry.unref();
      });
    }
  }
}

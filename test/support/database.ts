import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** A database of its own on the test run's PostgreSQL server (TEST_DATABASE_URL). */
export class TestDatabase {
  private constructor(
    readonly url: string,
    private readonly name: string,
  ) {}

  static async create(): Promise<TestDatabase> {
    const server = process.env.TEST_DATABASE_URL;
    if (!server)
      throw new Error('TEST_DATABASE_URL is not set: the global setup starts PostgreSQL');
    const name = `spec_${randomBytes(6).toString('hex')}`;
    await TestDatabase.admin(server, `CREATE DATABASE ${name}`);
    const url = new URL(server);
    url.pathname = `/${name}`;
    return new TestDatabase(url.toString(), name);
  }

  /** Runs SQL against this database. */
  async sql(text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
    const client = new Client({ connectionString: this.url });
    await client.connect();
    try {
      return (await client.query(text, values)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  }

  async drop(): Promise<void> {
    await TestDatabase.admin(
      process.env.TEST_DATABASE_URL ?? '',
      `DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`,
    );
  }

  private static async admin(url: string, statement: string): Promise<void> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  }
}

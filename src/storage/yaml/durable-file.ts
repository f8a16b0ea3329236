import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } = constants;

/** How a file is opened: to read, to append, to read and write in place, or created anew. */
export type FileMode = 'read' | 'append' | 'update' | 'create';

const FLAGS: Record<FileMode, number> = {
  read: O_RDONLY,
  append: O_WRONLY | O_APPEND | O_CREAT,
  update: O_RDWR,
  create: O_WRONLY | O_CREAT | O_EXCL,
};

/** A file we were asked to use is not a regular file (a FIFO, a device, a directory). */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
}

/**
 * Opens `path` only if it is a regular file: a symlink is refused (`ELOOP`, O_NOFOLLOW) and so is
 * a FIFO or device (O_NONBLOCK keeps a FIFO from tying up a thread-pool thread while it waits for
 * a writer; fstat then refuses it). New files get mode 0600.
 */
export async function openRegularFile(path: string, mode: FileMode): Promise<FileHandle> {
  const handle = await open(path, FLAGS[mode] | O_NOFOLLOW | O_NONBLOCK, 0o600);
  try {
    if (!(await handle.stat()).isFile())
      throw new NotRegularFileError(`${path} is not a regular file`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The text of the regular file at `path`, or undefined when there is none. */
export async function readRegularFile(path: string): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await openRegularFile(path, 'read');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Writes `pieces` one after the other at the handle's position, in as few calls as it takes. */
export async function writeAll(
  handle: Pick<FileHandle, 'writev'>,
  pieces: readonly Buffer[],
): Promise<void> {
  let rest = pieces.filter((piece) => piece.length > 0);
  while (rest.length > 0) {
    let { bytesWritten } = await handle.writev(rest);
    // A short write: go on from where it stopped (a full disk answers the next call with ENOSPC).
    if (bytesWritten === 0) {
      throw Object.assign(new Error('the file system took no bytes'), { code: 'ENOSPC' });
    }
    let next = 0;
    while (next < rest.length && bytesWritten >= rest[next].length) {
      bytesWritten -= rest[next].length;
      next++;
    }
    rest =
      next < rest.length && bytesWritten > 0
        ? [rest[next].subarray(bytesWritten), ...rest.slice(next + 1)]
        : rest.slice(next);
  }
}

/**
 * Writes `content` (text, or bytes in pieces) to `path`, a new file (`create`) or the end of a
 * regular one (`append`), and fsyncs it before closing: once this resolves, the bytes are on disk.
 */
export async function writeAndSync(
  path: string,
  mode: 'create' | 'append',
  content: string | readonly Buffer[],
): Promise<void> {
  await writeSyncAndClose(await openRegularFile(path, mode), content);
}

/** Writes `content` through an opened file, fsyncs it, and closes it (whatever happens). */
export async function writeSyncAndClose(
  handle: FileHandle,
  content: string | readonly Buffer[],
): Promise<void> {
  try {
    if (typeof content === 'string') await handle.writeFile(content, 'utf8');
    else await writeAll(handle, content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs a directory, making a rename (or a file created) in it durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `dir/name` with `text` atomically and durably: a temp file beside it, fsynced,
 * renamed over it, and the folder fsynced. `beforeRename`, when given, runs last before the
 * rename and may refuse it by throwing; the temp file is removed whenever nothing is installed.
 */
export async function replaceDurably(
  dir: string,
  name: string,
  text: string,
  beforeRename?: () => Promise<void>,
): Promise<void> {
  const temp = join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeAndSync(temp, 'create', text);
    await beforeRename?.();
    await rename(temp, join(dir, name));
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

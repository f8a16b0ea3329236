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

/**
 * Writes `text` to `path`, a new file (`create`) or the end of a regular one (`append`), and
 * fsyncs it before closing: once this resolves, the bytes are on disk.
 */
export async function writeAndSync(
  path: string,
  mode: 'create' | 'append',
  text: string,
): Promise<void> {
  const handle = await openRegularFile(path, mode);
  try {
    await handle.writeFile(text, 'utf8');
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

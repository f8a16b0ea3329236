import { open } from 'node:fs/promises';

/**
 * Writes `text` to `path`, opened with `flags` (`wx`: a new file; `a`: append) and mode 0600
 * when created, and fsyncs it before closing: once this resolves, the bytes are on disk.
 */
export async function writeAndSync(path: string, flags: 'wx' | 'a', text: string): Promise<void> {
  const handle = await open(path, flags, 0o600);
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

import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAll, writeAndSync } from './durable-file';

describe('writing a file in pieces', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'durable-file-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const pieces = (count: number) =>
    Array.from({ length: count }, (_v, i) => Buffer.from(i % 10 === 0 ? '' : `piece ${i}\n`));

  it('writes more pieces than one writev takes, in order', async () => {
    const file = join(dir, 'many');
    await writeAndSync(file, 'create', pieces(3000));
    expect(await readFile(file)).toEqual(Buffer.concat(pieces(3000)));
  });

  it('goes on after short writes, from the byte where each stopped', async () => {
    const file = join(dir, 'short');
    const handle = await open(file, 'w');
    try {
      // A file system that takes at most 7 bytes per call, mid-piece included.
      await writeAll(
        {
          writev: async (buffers: readonly NodeJS.ArrayBufferView[]) => {
            const bytes = Buffer.concat(buffers as Buffer[]).subarray(0, 7);
            const { bytesWritten } = await handle.write(bytes);
            return { bytesWritten, buffers: buffers as never };
          },
        },
        pieces(40),
      );
    } finally {
      await handle.close();
    }
    expect(await readFile(file)).toEqual(Buffer.concat(pieces(40)));
  });

  it('fails rather than loops when the file system takes nothing', async () => {
    const stuck = { writev: () => Promise.resolve({ bytesWritten: 0, buffers: [] as never }) };
    await expect(writeAll(stuck, pieces(3))).rejects.toMatchObject({ code: 'ENOSPC' });
  });
});

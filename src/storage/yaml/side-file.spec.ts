import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SideFile } from './side-file';

describe('a side file beside security.yml', () => {
  let root: string;
  let now: number;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'side-file-'));
    await mkdir(join(root, 'acme'));
    now = Date.parse('2026-12-07T00:00:00.000Z');
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await rm(root, { recursive: true, force: true });
  });

  const parse = (text: string | undefined) => text ?? 'none';
  // Another process (or a hand edit) changing the file: the size changes, so does its stat.
  const writeByOther = (text: string) => writeFile(join(root, 'acme', 'side.json'), text);

  it('is read again as soon as it changes, without reuseMs', async () => {
    const file = new SideFile(root, 'side.json', 10, parse);
    expect(await file.read('acme')).toBe('none');
    await writeByOther('one');
    expect(await file.read('acme')).toBe('one');
    await writeByOther('two!');
    expect(await file.read('acme')).toBe('two!');
  });

  it('with reuseMs, is trusted that long without a look at the file, then looked at again', async () => {
    const file = new SideFile(root, 'side.json', 10, parse, 1000);
    await writeByOther('one');
    expect(await file.read('acme')).toBe('one');
    await writeByOther('two!');
    now += 999;
    expect(await file.read('acme')).toBe('one');
    now += 1;
    expect(await file.read('acme')).toBe('two!');
  });

  it('an unchanged file found at a look starts a new window', async () => {
    const file = new SideFile(root, 'side.json', 10, parse, 1000);
    await writeByOther('one');
    expect(await file.read('acme')).toBe('one');
    now += 1000;
    expect(await file.read('acme')).toBe('one');
    await writeByOther('two!');
    now += 999;
    expect(await file.read('acme')).toBe('one');
  });

  it('after its own replace, is read again at once', async () => {
    const file = new SideFile(root, 'side.json', 10, parse, 1000);
    await writeByOther('one');
    expect(await file.read('acme')).toBe('one');
    await file.replace('acme', 'two!');
    expect(await file.read('acme')).toBe('two!');
  });

  it('does not keep what a read that overlapped a forget found', async () => {
    const file = new SideFile(root, 'side.json', 10, parse, 1000);
    await writeByOther('one');
    const reading = file.read('acme'); // stats now, loads on the thread pool
    file.forget('acme');
    expect(await reading).toBe('one');
    await writeByOther('two!');
    expect(await file.read('acme')).toBe('two!');
  });
});

import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { TenantChangedError } from '../storage/storage.errors';
import type { ApiKeysService } from '../api-keys/api-keys.service';
import { SecurityFileError } from '../storage/yaml/security-file';
import type { Caller } from '../auth/principal';

/** A command that ran and failed for a reason the operator is told in one line; exit 1. */
export class CommandFailed extends Error {}

/** `keys apply <tenant> <file>`: validates the file, then installs it under the lock. */
export async function applyFile(
  service: ApiKeysService,
  tenant: string,
  path: string,
  caller: Caller,
): Promise<string> {
  const text = await readFile(path, 'utf8');
  try {
    await service.replaceAll(tenant, text, caller);
  } catch (error) {
    if (error instanceof SecurityFileError) {
      throw new CommandFailed(`${path} is invalid, nothing was installed: ${error.message}`);
    }
    throw error;
  }
  return `installed ${path} as the security.yml of tenant "${tenant}"`;
}

/** Runs the operator's editor on `file`, as a shell would (`$EDITOR` may carry arguments). */
function runEditor(editor: string, file: string): void {
  const result = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'editor', file], {
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    throw new CommandFailed(`the editor (${editor}) failed; nothing was installed`);
  }
}

/** Whether the operator, at a terminal, wants to edit again after an invalid save. */
async function editAgain(problem: string): Promise<boolean> {
  process.stderr.write(`the edited file is invalid: ${problem}\n`);
  if (!process.stdin.isTTY) return false;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question('What now? (e)dit again, (q)uit without installing: ');
    return answer.trim().toLowerCase().startsWith('e');
  } finally {
    prompt.close();
  }
}

/**
 * `keys edit <tenant>`, as visudo does: the editor works on a private copy; the copy is
 * validated when the editor exits and installed under the lock only if it is valid and the
 * tenant did not change meanwhile. An invalid copy is offered for another edit at a terminal,
 * and refused (exit 1, nothing installed) otherwise.
 */
export async function editInEditor(
  service: ApiKeysService,
  tenant: string,
  caller: Caller,
  editor: string,
): Promise<string> {
  const original = await service.exportText(tenant);
  const dir = await mkdtemp(join(tmpdir(), 'keys-edit-'));
  const copy = join(dir, `${tenant}.security.yml`);
  await writeFile(copy, original, { mode: 0o600 });
  let installed = false;
  try {
    for (;;) {
      runEditor(editor, copy);
      const edited = await readFile(copy, 'utf8');
      if (edited === original) return `no changes to the security.yml of tenant "${tenant}"`;
      try {
        await service.replaceAll(tenant, edited, caller, original);
        installed = true;
        return `installed the edited security.yml of tenant "${tenant}"`;
      } catch (error) {
        if (error instanceof TenantChangedError) {
          throw new CommandFailed(
            `security.yml of tenant "${tenant}" changed while you edited; nothing was installed, your copy is kept at ${copy}`,
          );
        }
        if (!(error instanceof SecurityFileError)) throw error;
        if (!(await editAgain(error.message))) {
          throw new CommandFailed(`nothing was installed; your copy is kept at ${copy}`);
        }
      }
    }
  } finally {
    if (installed) await rm(dir, { recursive: true, force: true });
  }
}

import { parentPort } from 'node:worker_threads';
import { parseSecurityFile, SecurityFileError } from './security-file';

/** What the parser thread answers for one file. */
export type ParseReply =
  | { readonly id: number; readonly document: ReturnType<typeof parseSecurityFile> }
  | { readonly id: number; readonly invalid: string }
  | { readonly id: number; readonly failed: string };

// Runs in the parser thread (SecurityFileParser): parses one file per message.
parentPort?.on('message', ({ id, text }: { id: number; text: string }) => {
  let reply: ParseReply;
  try {
    reply = { id, document: parseSecurityFile(text) };
  } catch (error) {
    reply =
      error instanceof SecurityFileError
        ? { id, invalid: error.message }
        : { id, failed: error instanceof Error ? error.message : String(error) };
  }
  parentPort?.postMessage(reply);
});

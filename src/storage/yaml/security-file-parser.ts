import { Injectable, Logger } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { parseSecurityFile, type SecurityDocument, SecurityFileError } from './security-file';
import type { ParseReply } from './security-file.worker';

/**
 * Files at least this long are parsed in a thread of their own. Below it a parse takes at most
 * a few tens of milliseconds on the event loop; a 16 MiB file takes seconds.
 */
export const PARSE_IN_THREAD_FROM = 256 * 1024;

/**
 * The compiled worker beside this file. Run from the TypeScript sources (the specs, after
 * `nest build`), it is the build's copy under dist/.
 */
function workerFile(): string {
  const compiled = __filename
    .replace(/\.ts$/, '.js')
    .replace('security-file-parser', 'security-file.worker');
  if (!__filename.endsWith('.ts')) return compiled;
  return compiled.replace(/([/\\])src([/\\])(?!.*[/\\]src[/\\])/, '$1dist$2');
}

interface Pending {
  readonly resolve: (document: SecurityDocument) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Parses security.yml files, large ones in a worker thread so that a big tenant never stalls
 * the others (nor `/health`), nor keeps the event loop from refreshing a held lock.
 */
@Injectable()
export class SecurityFileParser {
  private readonly logger = new Logger(SecurityFileParser.name);
  private worker?: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  parse(text: string): Promise<SecurityDocument> {
    const worker = text.length < PARSE_IN_THREAD_FROM ? undefined : this.thread();
    if (!worker) return new Promise((resolve) => resolve(parseSecurityFile(text)));
    const id = this.nextId++;
    return new Promise<SecurityDocument>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, text });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private thread(): Worker | undefined {
    if (this.worker) return this.worker;
    const file = workerFile();
    if (!existsSync(file)) {
      this.logger.warn(
        `no parser thread (${file} is not built): large files parse on the event loop`,
      );
      return undefined;
    }
    const worker = new Worker(file);
    worker.unref(); // referenced only while a parse is pending
    worker.on('message', (reply: ParseReply) => this.settle(reply));
    worker.on('error', (error) => this.fail(worker, error));
    worker.on('exit', (code) => this.fail(worker, new Error(`parser thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private settle(reply: ParseReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    if ('document' in reply) pending.resolve(reply.document);
    else if ('invalid' in reply) pending.reject(new SecurityFileError(reply.invalid));
    else pending.reject(new Error(reply.failed));
  }

  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

/** npm runs every script from the package root, where `nest build` writes dist/. */
const MAIN = join(process.cwd(), 'dist', 'main.js');

/** The built server (`node dist/main.js`) in a child process on 127.0.0.1 and a free port. */
export class ServerProcess {
  private output = '';

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    output: string,
    keepLogs: boolean,
  ) {
    this.output = output;
    const keep = (chunk: Buffer) => {
      if (keepLogs) this.output += chunk.toString();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /**
   * Starts the server and resolves once it listens; rejects with its output if it exits.
   * `keepLogs: false` reads and drops its output (for benchmarks); `script` runs another
   * built server that prints the same "serving ... on <url>" line (the benchmark's floor).
   */
  static async start(
    env: Record<string, string>,
    { keepLogs = true, timeoutMs = 20_000, script = MAIN } = {},
  ): Promise<ServerProcess> {
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server did not start:\n${output}`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /serving .* on (http:\/\/[^"\s]+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1].replace('[::1]', '127.0.0.1'));
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${output}`));
      });
    });
    child.stdout.removeAllListeners('data');
    child.stderr.removeAllListeners('data');
    child.removeAllListeners('exit');
    return new ServerProcess(child, url, output, keepLogs);
  }

  /** Everything the server wrote to stdout and stderr so far. */
  get logs(): string {
    return this.output;
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
    graceMs = 10_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return { code: this.child.exitCode, signal: this.child.signalCode };
    }
    const exited = once(this.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const [code, sig] = await exited;
    clearTimeout(timer);
    return { code, signal: sig };
  }
}

/** Runs `node dist/main.js` to completion (for start-up failures). */
export async function runServerToExit(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}

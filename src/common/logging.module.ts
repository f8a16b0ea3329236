import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Global, Inject, Injectable, type LoggerService, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { Request, RequestHandler, Response } from 'express';
import { type Level, type Logger, pino } from 'pino';
import { appConfig } from '../config/app.config';

declare module 'node:http' {
  interface IncomingMessage {
    /** The request id, as sent back in X-Request-Id. */
    id?: string;
  }
}

/** A caller's X-Request-Id is kept when it is a short, plain token; otherwise we make one. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(request: IncomingMessage, response: ServerResponse): string {
  const given = request.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
  response.setHeader('X-Request-Id', id);
  return id;
}

/** A gateway's check (the hot path): logged at `debug` when it succeeds, like a cache hit. */
function isVerification(request: IncomingMessage): boolean {
  const url = (request as IncomingMessage & { originalUrl?: string }).originalUrl ?? request.url;
  return url?.startsWith('/auth/verify') ?? false;
}

function levelOf(request: IncomingMessage, response: ServerResponse): Level {
  if (response.statusCode >= 500) return 'error';
  return response.statusCode < 400 && isVerification(request) ? 'debug' : 'info';
}

const NEST_LEVELS = {
  log: 'info',
  error: 'error',
  warn: 'warn',
  debug: 'debug',
  verbose: 'trace',
  fatal: 'fatal',
} as const satisfies Record<string, Level>;

/**
 * Structured JSON logs (pino) at LOG_LEVEL: the application's own lines, with their context,
 * and one line per request, written when it is answered, by request id, method, path (no query
 * string) and status only: never a header, so no token, hash or Authorization value. Nothing
 * per request is built unless its line is written (no child logger, no async context): this
 * is on the path of every request, the gateway's hot path included.
 */
@Injectable()
export class AppLogger implements LoggerService {
  private readonly logger: Logger;

  constructor(@Inject(appConfig.KEY) config: Pick<ConfigType<typeof appConfig>, 'logLevel'>) {
    this.logger = pino({ level: config.logLevel });
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('log', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('verbose', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  /**
   * Gives each request its id (X-Request-Id), and once it is answered (or aborted) logs it and
   * hands it, with its duration in seconds, to `answered` (the request metrics): one listener
   * and one clock reading per request for both.
   */
  requestLogging(
    answered: (request: Request, response: Response, seconds: number) => void,
  ): RequestHandler {
    const logger = this.logger;
    return (request, response, next) => {
      const started = process.hrtime.bigint();
      const id = requestIdOf(request, response);
      request.id = id;
      // 'close' follows every response, answered or aborted.
      response.once('close', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        answered(request, response, seconds);
        const level = levelOf(request, response);
        if (!logger.isLevelEnabled(level)) return;
        logger[level](
          {
            req: { id, method: request.method, path: request.originalUrl.split('?')[0] },
            res: { statusCode: response.statusCode },
            responseTime: Math.round(seconds * 1000),
          },
          response.writableFinished ? 'request completed' : 'request aborted',
        );
      });
      next();
    };
  }

  /** Nest's calling convention: the context last (a string), an error's stack before it. */
  private write(method: keyof typeof NEST_LEVELS, message: unknown, rest: unknown[]): void {
    const level = NEST_LEVELS[method];
    if (!this.logger.isLevelEnabled(level)) return;
    const context = rest.length > 0 && typeof rest.at(-1) === 'string' ? rest.pop() : undefined;
    const stack = method === 'error' && typeof rest[0] === 'string' ? rest[0] : undefined;
    const fields = { context, ...(stack !== undefined && { stack }) };
    if (message instanceof Error) this.logger[level]({ ...fields, err: message }, message.message);
    else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...message });
    } else this.logger[level](fields, String(message));
  }
}

/** The one logger of the application (set with `app.useLogger`). */
@Global()
@Module({ providers: [AppLogger], exports: [AppLogger] })
export class LoggingModule {}

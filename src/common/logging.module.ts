import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import { appConfig } from '../config/app.config';

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

/**
 * Structured JSON logs with a request id on every line. Requests are logged by method, path
 * (no query string) and status only: never a header, so no token, hash or Authorization value.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [appConfig.KEY],
      useFactory: (config: ConfigType<typeof appConfig>) => ({
        pinoHttp: {
          level: config.logLevel,
          genReqId: requestIdOf,
          serializers: {
            req: (request: { id: unknown; method: string; url: string }) => ({
              id: request.id,
              method: request.method,
              path: request.url.split('?')[0],
            }),
            res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
          },
          redact: { paths: ['req.headers', 'res.headers'], remove: true },
          customLogLevel: (request: IncomingMessage, response: ServerResponse, error?: Error) =>
            error || response.statusCode >= 500
              ? 'error'
              : response.statusCode < 400 && isVerification(request)
                ? 'debug'
                : 'info',
        },
      }),
    }),
  ],
})
export class LoggingModule {}

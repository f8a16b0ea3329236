import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import {
  StorageUnavailableError,
  TenantBusyError,
  TenantChangeTooLargeError,
  TenantFileInvalidError,
  TenantNotFoundError,
  TenantStorageError,
} from '../storage/storage.errors';
import { codeOf, hasHeaders, type ProblemCode } from './http-problems';
import type { FieldErrorDto, ProblemDto } from './problem.dto';
import { ValidationProblemException } from './validation.pipe';

function detailOf(exception: HttpException): string {
  const body = exception.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : exception.message;
}

interface Classified {
  readonly status: number;
  readonly detail: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly code?: ProblemCode;
}

/** Writes an RFC 9457 problem: the one shape of every error this service sends. */
export function sendProblem(
  request: Request,
  response: Response,
  { status, detail, headers, code, errors }: Classified & { readonly errors?: FieldErrorDto[] },
): void {
  const problem: ProblemDto = {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
  };
  if (typeof request.id === 'string') problem.instance = request.id;
  if (code) problem.code = code;
  if (errors) problem.errors = errors;
  if (headers) response.set(headers);
  response.status(status).type('application/problem+json').send(JSON.stringify(problem));
}

/**
 * The one place errors become responses: RFC 9457 `application/problem+json` for everything,
 * storage errors mapped to their status, and a 500 that never shows a stack, a file or a secret.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger(ProblemDetailsFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    const classified = this.classify(exception);
    if (response.headersSent) return;
    const errors = exception instanceof ValidationProblemException ? exception.errors : undefined;
    sendProblem(request, response, { ...classified, errors });
  }

  private classify(exception: unknown): Classified {
    if (exception instanceof HttpException) {
      const headers = hasHeaders(exception) ? exception.headers : undefined;
      const code = codeOf(exception);
      return { status: exception.getStatus(), detail: detailOf(exception), headers, code };
    }
    if (exception instanceof StorageUnavailableError) {
      this.logger.warn(exception.message);
      const headers = { 'Retry-After': String(exception.retryAfterSeconds) };
      return { status: 503, detail: exception.message, headers };
    }
    if (exception instanceof TenantBusyError) {
      const headers = { 'Retry-After': String(exception.retryAfterSeconds) };
      return { status: 503, detail: exception.message, headers };
    }
    if (exception instanceof TenantNotFoundError) return { status: 404, detail: exception.message };
    if (exception instanceof TenantChangeTooLargeError) {
      return { status: 507, detail: exception.message };
    }
    if (exception instanceof TenantFileInvalidError) {
      this.logger.warn(`${exception.tenantId}/security.yml is invalid: ${exception.problem}`);
      return { status: 500, detail: exception.message };
    }
    if (exception instanceof TenantStorageError) {
      this.logger.error(exception.message);
      return { status: exception.code === 'ENOSPC' ? 507 : 500, detail: exception.message };
    }
    this.logger.error(
      exception instanceof Error ? (exception.stack ?? exception.message) : exception,
    );
    return { status: 500, detail: 'an unexpected error occurred' };
  }
}

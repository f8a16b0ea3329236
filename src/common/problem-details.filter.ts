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
  TenantFileInvalidError,
  TenantNotFoundError,
  TenantStorageError,
} from '../api-keys/api-keys.errors';
import { hasHeaders } from './http-problems';
import type { ProblemDto } from './problem.dto';
import { ValidationProblemException } from './validation.pipe';

function detailOf(exception: HttpException): string {
  const body = exception.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : exception.message;
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
    const { status, detail } = this.classify(exception);
    const problem: ProblemDto = {
      type: 'about:blank',
      title: STATUS_CODES[status] ?? 'Error',
      status,
      detail,
    };
    if (typeof request.id === 'string') problem.instance = request.id;
    if (exception instanceof ValidationProblemException) problem.errors = exception.errors;
    if (response.headersSent) return;
    if (hasHeaders(exception)) response.set(exception.headers);
    response.status(status).type('application/problem+json').send(JSON.stringify(problem));
  }

  private classify(exception: unknown): { status: number; detail: string } {
    if (exception instanceof HttpException) {
      return { status: exception.getStatus(), detail: detailOf(exception) };
    }
    if (exception instanceof TenantNotFoundError) return { status: 404, detail: exception.message };
    if (exception instanceof TenantFileInvalidError) {
      this.logger.warn(exception.message);
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

import {
  BadRequestException,
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  PayloadTooLargeException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { json } from 'body-parser';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { is as typeIs } from 'type-is';
import type { Observable } from 'rxjs';
import { ValidationProblemException } from './validation.pipe';

/** Bodies above this many bytes are refused with 413. */
export const MAX_BODY_BYTES = 100_000;
const JSON_TYPES = ['application/json', 'application/*+json'];
const RESERVED_FIELDS = ['__proto__', 'constructor', 'prototype'];
/**
 * Bodies nesting objects or arrays deeper than this are refused before validation, whose
 * recursion a body of a few kilobytes could otherwise exhaust. Ours nest two levels.
 */
export const MAX_BODY_DEPTH = 32;

/** Whether `value` nests objects or arrays deeper than `max` (counted without recursion). */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return false;
}

const bodyErrors = new WeakMap<Request, unknown>();

/**
 * Parses JSON bodies but holds back a parse error instead of answering at once, so that
 * authentication, which runs later, decides first: an unauthenticated request is 401 whatever
 * its body. JsonBodyInterceptor, which runs after the guards, raises what was held back.
 */
export function deferredJsonBodyParser(): RequestHandler {
  const parse = json({ limit: MAX_BODY_BYTES, type: JSON_TYPES, strict: true });
  return (request: Request, response: Response, next: NextFunction) => {
    parse(request, response, (error?: unknown) => {
      if (error) bodyErrors.set(request, error);
      next();
    });
  };
}

interface BodyParserError {
  readonly type?: string;
  readonly message?: string;
}

function toHttpError(error: BodyParserError): Error {
  switch (error.type) {
    case 'entity.too.large':
      return new PayloadTooLargeException(`the request body exceeds ${MAX_BODY_BYTES} bytes`);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new UnsupportedMediaTypeException(error.message ?? 'unsupported body encoding');
    case 'entity.parse.failed':
      return new BadRequestException(`the request body is not valid JSON: ${error.message ?? ''}`);
    default:
      return new BadRequestException('the request body could not be read');
  }
}

/** Whether the request sends any body bytes (an empty body is validated as `{}`). */
function sendsContent(request: Request): boolean {
  return (
    request.headers['transfer-encoding'] !== undefined ||
    Number(request.headers['content-length'] ?? 0) > 0
  );
}

/** After authentication: refuses bodies that failed to parse, are not JSON, or are not objects. */
/**
 * Marks a route that reads no body (the gateway route: whatever body the gateway forwards is
 * the upstream's business), so none is checked and none can make it fail.
 */
export const IgnoresBody = Reflector.createDecorator<void, true>({ transform: () => true });

@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.reflector.get(IgnoresBody, context.getHandler())) return next.handle();
    const request = context.switchToHttp().getRequest<Request>();
    const error = bodyErrors.get(request);
    if (error) throw toHttpError(error);
    if (request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH') {
      if (sendsContent(request) && !typeIs(request.headers['content-type'] ?? '', JSON_TYPES)) {
        throw new UnsupportedMediaTypeException('the request body must be application/json');
      }
      request.body ??= {};
      if (typeof request.body !== 'object' || Array.isArray(request.body)) {
        throw new BadRequestException('the request body must be a JSON object');
      }
      if (nestsDeeperThan(request.body, MAX_BODY_DEPTH)) {
        throw new BadRequestException(
          `the request body nests deeper than ${MAX_BODY_DEPTH} levels of objects and arrays`,
        );
      }
      // class-transformer silently drops these, so whitelisting never sees them: refuse here.
      const reserved = RESERVED_FIELDS.filter((name) =>
        Object.hasOwn(request.body as object, name),
      );
      if (reserved.length > 0) {
        throw new ValidationProblemException(
          reserved.map((field) => ({ field, message: `${field} is not a known field` })),
        );
      }
    }
    return next.handle();
  }
}

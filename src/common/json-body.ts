import {
  type ArgumentMetadata,
  BadRequestException,
  Injectable,
  PayloadTooLargeException,
  type PipeTransform,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { json } from 'body-parser';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { is as typeIs } from 'type-is';
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

/**
 * What a request's body is when it could not be read as JSON: the error to answer with, held
 * until a route that reads a body asks for it.
 */
export class UnreadableBody {
  constructor(readonly error: Error) {}
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

function sendsContent(request: Request): boolean {
  return (
    request.headers['transfer-encoding'] !== undefined ||
    Number(request.headers['content-length'] ?? 0) > 0
  );
}

/**
 * Parses JSON bodies but holds back what is wrong with one (malformed, too large, not JSON)
 * instead of answering at once, so that authentication, which runs later, decides first: an
 * unauthenticated request is 401 whatever its body. JsonBodyPipe raises it, for the routes
 * that read a body; the others (a DELETE, the gateway check) never look at it. A request
 * without content is not handed to the parser at all.
 */
export function deferredJsonBodyParser(): RequestHandler {
  const parse = json({
    limit: MAX_BODY_BYTES,
    type: JSON_TYPES,
    strict: true,
    // The bytes as sent, for a route that checks a signature over them (secret scanning).
    verify: (request: Request, _response, bytes: Buffer) => {
      request.rawBody = bytes;
    },
  });
  return (request: Request, response: Response, next: NextFunction) => {
    if (!sendsContent(request)) {
      next();
      return;
    }
    parse(request, response, (error?: unknown) => {
      if (error) {
        request.body = new UnreadableBody(toHttpError(error));
      } else if (!typeIs(request.headers['content-type'] ?? '', JSON_TYPES)) {
        request.body = new UnreadableBody(
          new UnsupportedMediaTypeException('the request body must be application/json'),
        );
      }
      next();
    });
  };
}

/**
 * The checks every JSON body gets before validation, on the routes that read one (`@Body()`),
 * after the guards: what the parser held back, a body that is not an object, nesting beyond
 * MAX_BODY_DEPTH, and reserved field names.
 */
@Injectable()
export class JsonBodyPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body') return value;
    if (value instanceof UnreadableBody) throw value.error;
    const body = value ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) {
      throw new BadRequestException('the request body must be a JSON object');
    }
    if (nestsDeeperThan(body, MAX_BODY_DEPTH)) {
      throw new BadRequestException(
        `the request body nests deeper than ${MAX_BODY_DEPTH} levels of objects and arrays`,
      );
    }
    // class-transformer silently drops these, so whitelisting never sees them: refuse here.
    const reserved = RESERVED_FIELDS.filter((name) => Object.hasOwn(body, name));
    if (reserved.length > 0) {
      throw new ValidationProblemException(
        reserved.map((field) => ({ field, message: `${field} is not a known field` })),
      );
    }
    return body;
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** The JSON body's bytes as received, set by the body parser. */
    rawBody?: Buffer;
  }
}

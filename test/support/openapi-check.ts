import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Response } from 'supertest';

/** Headers the service sends that a generated client may read; each must be documented. */
const WATCHED_HEADERS = [
  'location',
  'retry-after',
  'www-authenticate',
  'x-request-id',
  'cache-control',
  'etag',
];

/** The path template of the document that `path` is an instance of. */
function templateOf(paths: string[], path: string): string | undefined {
  const bare = path.split('?')[0];
  return paths.find((template) =>
    new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare),
  );
}

/**
 * Holds real responses to what the OpenAPI document says of them: the status is listed for the
 * operation, the media type is the documented one, the body validates against its schema (ajv),
 * and every watched header sent is declared.
 */
export class OpenApiCheck {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly document: any) {
    addFormats(this.ajv);
    this.ajv.addSchema({ components: document.components }, 'doc');
  }

  /** What is wrong with `res` as an answer to `method path`, or [] when it is as documented. */
  problems(method: string, path: string, res: Response): string[] {
    const template = templateOf(Object.keys(this.document.paths), path);
    if (!template) return [`${path} is not documented`];
    const operation = this.document.paths[template][method.toLowerCase()];
    if (!operation) return [`${method} ${template} is not documented`];
    const where = `${method} ${template} ${res.status}`;
    const documented = operation.responses[String(res.status)];
    if (!documented) return [`${where}: status not documented`];
    const problems: string[] = [];
    const declared = Object.keys(documented.headers ?? {}).map((name) => name.toLowerCase());
    for (const name of WATCHED_HEADERS) {
      if (res.headers[name] !== undefined && !declared.includes(name)) {
        problems.push(`${where}: header ${name} sent but not declared`);
      }
    }
    const media = (res.headers['content-type'] ?? '').split(';')[0];
    if (!documented.content) {
      if (res.text) problems.push(`${where}: a body is sent but none is documented`);
      return problems;
    }
    const content = documented.content[media];
    if (!content) {
      problems.push(
        `${where}: sent as ${media}, documented as ${Object.keys(documented.content).join(', ')}`,
      );
      return problems;
    }
    const validate = this.validator(`${where} ${media}`, content.schema);
    const body = media.startsWith('text/') ? res.text : res.body;
    if (!validate(body)) {
      problems.push(`${where}: body does not match: ${this.ajv.errorsText(validate.errors)}`);
    }
    return problems;
  }

  private validator(key: string, schema: object): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      // References point into the document's components, registered once as `doc`.
      const rooted = JSON.parse(
        JSON.stringify(schema).replace(/"#\/components\//g, '"doc#/components/'),
      );
      validate = this.ajv.compile(rooted);
      this.validators.set(key, validate);
    }
    return validate;
  }
}

/** The scopes this service knows, with what each lets a caller do (shown in Swagger UI). */
export const API_KEY_READ = 'tenant.apiKey:read';
export const API_KEY_WRITE = 'tenant.apiKey:write';
export const AUDIT_READ = 'tenant.audit:read';

export const SCOPE_DESCRIPTIONS: Record<string, string> = {
  [API_KEY_READ]: 'List and read the API keys of a tenant',
  [API_KEY_WRITE]: 'Create, update and delete the API keys of a tenant',
  [AUDIT_READ]: "Read a tenant's audit trail of key changes",
};

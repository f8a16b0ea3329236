import { applyDecorators } from '@nestjs/common';
import {
  ArrayMaxSize,
  IsArray,
  IsISO8601,
  IsString,
  Length,
  Matches,
  ValidateBy,
  ValidateIf,
} from 'class-validator';
import {
  INSTANT_PATTERN,
  KEY_NAME_PATTERN,
  MAX_PERMISSIONS,
  PERMISSION_PATTERN,
} from '../../storage/api-key.record';

/** May be left out, but not sent as null: `null` is a wrong type, not an omission. */
export function IsOmittable(): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined);
}

/** May be left out or sent as null (which means "remove"). */
export function IsOmittableOrNull(): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined && value !== null);
}

/** An ISO 8601 instant with a time and a zone, e.g. 2027-01-31T00:00:00Z. */
export function IsInstant(): PropertyDecorator {
  return applyDecorators(
    IsString({ message: '$property must be a string' }),
    Matches(INSTANT_PATTERN, {
      message: '$property must be an ISO 8601 instant with a time zone, e.g. 2027-01-31T00:00:00Z',
    }),
    IsISO8601({ strict: true }, { message: '$property must be a valid date and time' }),
  );
}

export function IsKeyName(): PropertyDecorator {
  return applyDecorators(
    IsString({ message: '$property must be a string' }),
    Length(1, 128, { message: '$property must be 1 to 128 characters long' }),
    Matches(KEY_NAME_PATTERN, {
      message: '$property may only contain letters, digits, hyphens, underscores and dots',
    }),
  );
}

export function IsPermissionList(): PropertyDecorator {
  return applyDecorators(
    IsArray({ message: '$property must be an array of strings' }),
    ArrayMaxSize(MAX_PERMISSIONS, {
      message: `$property may hold at most ${MAX_PERMISSIONS} entries`,
    }),
    IsString({ each: true, message: 'each of $property must be a string' }),
    Matches(PERMISSION_PATTERN, {
      each: true,
      message: 'each of $property must be 1 to 128 characters of letters, digits and . _ : * -',
    }),
  );
}

/**
 * Held to a policy field's check (storage/key-policies.ts), the same one the security.yml
 * parser applies, whose message names the field and the part of it that is wrong.
 */
export function SatisfiesPolicy(
  check: (value: unknown, field: string) => string | undefined,
): PropertyDecorator {
  return ValidateBy({
    name: 'keyPolicy',
    validator: {
      validate: (value, args) => check(value, args?.property ?? '') === undefined,
      defaultMessage: (args) => (args && check(args.value, args.property)) ?? 'invalid value',
    },
  });
}

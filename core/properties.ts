import { LakehouseError } from './errors.ts';

/**
 * Reading settings from flat string properties (catalog properties, Iceberg table properties), one
 * rule for all of them: an absent or blank value means the default, and a value that is present but
 * not of the setting's kind is an error whose sentence names the setting, never a silent default.
 * That is what Java's `PropertyUtil` and PyIceberg's `property_as_int` do too: a typo in a setting
 * must not quietly turn into different behaviour.
 */

export interface PropertyRule {
  /** Smallest value allowed. */
  min?: number;
  /** Whose property it is, for the message, e.g. `Catalog 'prod'`; default none. */
  owner?: string;
}

export function intProperty(props: Record<string, string>, key: string, dflt: number, rule?: PropertyRule): number;
export function intProperty(props: Record<string, string>, key: string, dflt: undefined, rule?: PropertyRule): number | undefined;
export function intProperty(props: Record<string, string>, key: string, dflt: number | undefined, rule: PropertyRule = {}): number | undefined {
  const raw = props[key];
  if (raw === undefined || raw.trim() === '') return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || (rule.min !== undefined && n < rule.min)) {
    throw new LakehouseError(
      'INVALID_CONFIG',
      `${subject(rule, key)} must be an integer${rule.min === undefined ? '' : ` >= ${rule.min}`}, got "${raw}".`,
      { context: { property: key } },
    );
  }
  return n;
}

/**
 * `true` or `false` in any case, as Java and PyIceberg write them; `yes`/`no` and `1`/`0` too, as
 * environment variables and YAML-minded users write them. Anything else is an error.
 */
export function boolProperty(props: Record<string, string>, key: string, dflt: boolean, rule: Omit<PropertyRule, 'min'> = {}): boolean {
  const raw = props[key];
  if (raw === undefined || raw.trim() === '') return dflt;
  const s = raw.trim().toLowerCase();
  if (s === 'true' || s === 'yes' || s === '1') return true;
  if (s === 'false' || s === 'no' || s === '0') return false;
  throw new LakehouseError('INVALID_CONFIG', `${subject(rule, key)} must be true or false, got "${raw}".`, { context: { property: key } });
}

function subject(rule: PropertyRule, key: string): string {
  return rule.owner === undefined ? `Property ${key}` : `${rule.owner} property ${key}`;
}

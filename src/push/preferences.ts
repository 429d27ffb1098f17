/**
 * A user's notification preferences (design.md §6) and their effective result under the app's
 * categories: validated input, and the one place precedence is decided. Pure.
 */
import { badRequest } from '../protocol/errors.js';
import { inQuietHours, isTimeZone, isWallTime, type QuietHours } from './quiet-hours.js';

/** A category's setting as a user stores it; an absent channel follows the app's default. */
export interface CategoryPreference {
  readonly in_app?: boolean;
  readonly push?: boolean;
}

/** What `PUT …/preferences` stores (snake_case, as on the wire). */
export interface Preferences {
  readonly push: boolean;
  readonly categories: Readonly<Record<string, CategoryPreference>>;
  readonly quiet_hours: QuietHours | null;
}

/** An app's category options (apps file `categories`). */
export interface CategoryOptions {
  /** Always on, whatever the user set. */
  readonly locked: boolean;
  /** On unless the user turns it off (true), or off unless the user turns it on (false). */
  readonly default: boolean;
}

/** A category's effective channels. */
export interface EffectiveCategory {
  readonly in_app: boolean;
  readonly push: boolean;
  readonly locked: boolean;
}

/** The effective result `GET …/preferences` adds. */
export interface EffectivePreferences {
  readonly push: boolean;
  readonly categories: Readonly<Record<string, EffectiveCategory>>;
  readonly quiet_hours: QuietHours | null;
  readonly in_quiet_hours: boolean;
}

/** The preferences of a user who never set any. */
export const DEFAULT_PREFERENCES: Preferences = { push: true, categories: {}, quiet_hours: null };

export const CATEGORY_PATTERN = /^[a-z0-9_.-]{1,64}$/;
const MAX_CATEGORIES = 100;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseQuietHours(value: unknown): QuietHours | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw badRequest('"quiet_hours" must be an object { tz, start, end } or null');
  const { tz, start, end, ...rest } = value;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw badRequest(`"quiet_hours.${unknown}" is not a quiet hours field (tz, start, end)`);
  if (typeof tz !== 'string' || tz.length > 100 || !isTimeZone(tz)) throw badRequest('"quiet_hours.tz" must be an IANA time zone such as "Europe/Berlin"');
  if (typeof start !== 'string' || !isWallTime(start)) throw badRequest('"quiet_hours.start" must be a 24-hour time "HH:MM"');
  if (typeof end !== 'string' || !isWallTime(end)) throw badRequest('"quiet_hours.end" must be a 24-hour time "HH:MM"');
  return { tz, start, end };
}

function parseCategories(value: unknown): Record<string, CategoryPreference> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw badRequest('"categories" must be an object of category names');
  const entries = Object.entries(value);
  if (entries.length > MAX_CATEGORIES) throw badRequest(`"categories" has more than ${MAX_CATEGORIES} categories`);
  const categories: Record<string, CategoryPreference> = {};
  for (const [name, setting] of entries) {
    if (!CATEGORY_PATTERN.test(name)) throw badRequest(`"categories.${name}": a category is 1-64 characters of a-z 0-9 _ . -`);
    if (!isObject(setting)) throw badRequest(`"categories.${name}" must be an object { in_app?, push? }`);
    const { in_app: inApp, push, ...rest } = setting;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw badRequest(`"categories.${name}.${unknown}" is not a category field (in_app, push)`);
    if (inApp !== undefined && typeof inApp !== 'boolean') throw badRequest(`"categories.${name}.in_app" must be true or false`);
    if (push !== undefined && typeof push !== 'boolean') throw badRequest(`"categories.${name}.push" must be true or false`);
    categories[name] = { ...(inApp === undefined ? {} : { in_app: inApp }), ...(push === undefined ? {} : { push }) };
  }
  return categories;
}

/** Validates the body of `PUT …/preferences`; an absent field takes its default (it replaces, not merges). */
export function parsePreferences(body: Record<string, unknown>): Preferences {
  const { push, categories, quiet_hours: quietHours, effective: _effective, ...rest } = body;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw badRequest(`"${unknown}" is not a preferences field (push, categories, quiet_hours)`);
  if (push !== undefined && typeof push !== 'boolean') throw badRequest('"push" must be true or false');
  return { push: push ?? true, categories: parseCategories(categories), quiet_hours: parseQuietHours(quietHours) };
}

/**
 * The effective result: a locked category is on everywhere; otherwise the user's setting, else the
 * app's default (on unless the app says `default: false`); push also needs the user's push switch.
 */
export function effectivePreferences(
  preferences: Preferences,
  appCategories: Readonly<Record<string, CategoryOptions>>,
  nowMs: number,
): EffectivePreferences {
  const names = [...new Set([...Object.keys(appCategories), ...Object.keys(preferences.categories)])].sort();
  const categories: Record<string, EffectiveCategory> = {};
  for (const name of names) categories[name] = effectiveCategory(preferences, appCategories[name], name);
  const quiet = preferences.quiet_hours;
  return { push: preferences.push, categories, quiet_hours: quiet, in_quiet_hours: quiet !== null && inQuietHours(nowMs, quiet) };
}

function effectiveCategory(preferences: Preferences, options: CategoryOptions | undefined, name: string): EffectiveCategory {
  if (options?.locked) return { in_app: true, push: true, locked: true };
  const own = preferences.categories[name] ?? {};
  const fallback = options?.default ?? true;
  return { in_app: own.in_app ?? fallback, push: preferences.push && (own.push ?? fallback), locked: false };
}

/** Whether a notification of `category` (null: none) may be pushed to the user. */
export function pushAllowed(preferences: Preferences, appCategories: Readonly<Record<string, CategoryOptions>>, category: string | null): boolean {
  if (category === null) return preferences.push;
  return effectiveCategory(preferences, appCategories[category], category).push;
}

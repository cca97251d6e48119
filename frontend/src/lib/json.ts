// Validation of the JSON-valued options and of a channel's model mapping, done
// before anything is sent. Errors are i18n keys (see i18n/en.json "json.*").

export type JsonCheck =
  | { ok: true; value: unknown }
  | { ok: false; error: string; params?: Record<string, string> };

const fail = (error: string, params?: Record<string, string>): JsonCheck => ({ ok: false, error, params });

export function parseJson(text: string): JsonCheck {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return fail('json.invalid', { detail: e instanceof Error ? e.message : String(e) });
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An object whose values are all finite, non-negative numbers ({"gpt-4": 15}). */
export function validateNumberMap(text: string): JsonCheck {
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  if (!isPlainObject(v)) return fail('json.notObject');
  for (const [k, n] of Object.entries(v)) {
    if (k.trim() === '') return fail('json.emptyKey');
    if (typeof n !== 'number' || !Number.isFinite(n)) return fail('json.valueNotNumber', { key: k });
    if (n < 0) return fail('json.valueNegative', { key: k });
  }
  return parsed;
}

/** A list of {name, type} objects (payment methods). */
export function validatePayMethods(text: string): JsonCheck {
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  if (!Array.isArray(v)) return fail('json.notArray');
  for (let i = 0; i < v.length; i++) {
    const item = v[i];
    if (!isPlainObject(item) || typeof item.name !== 'string' || typeof item.type !== 'string' || !item.name || !item.type) {
      return fail('json.itemInvalid', { index: String(i + 1) });
    }
  }
  return parsed;
}

/** Options whose value is JSON, with the shape each must have. */
export const JSON_OPTION_VALIDATORS: Record<string, (text: string) => JsonCheck> = {
  ModelRatio: validateNumberMap,
  CompletionRatio: validateNumberMap,
  GroupRatio: validateNumberMap,
  ModelPrice: validateNumberMap,
  TopupGroupRatio: validateNumberMap,
  PayMethods: validatePayMethods,
};

export function isJsonOption(key: string): boolean {
  return key in JSON_OPTION_VALIDATORS;
}

/** Validates an option value before a PUT; non-JSON options always pass. */
export function validateOption(key: string, value: string): JsonCheck {
  const validator = JSON_OPTION_VALIDATORS[key];
  if (!validator) return { ok: true, value };
  if (value.trim() === '') return fail('json.empty');
  return validator(value);
}

/**
 * A channel's model mapping: blank, or an object of requested model → upstream model,
 * both non-empty strings.
 */
export function validateModelMapping(text: string | null | undefined): JsonCheck {
  const t = (text ?? '').trim();
  if (t === '') return { ok: true, value: {} };
  const parsed = parseJson(t);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  if (!isPlainObject(v)) return fail('json.notObject');
  for (const [k, m] of Object.entries(v)) {
    if (k.trim() === '') return fail('json.emptyKey');
    if (typeof m !== 'string' || m.trim() === '') return fail('json.valueNotString', { key: k });
  }
  return parsed;
}

/** Pretty-prints JSON text; returns the input unchanged when it does not parse. */
export function formatJson(text: string): string {
  const parsed = parseJson(text);
  return parsed.ok ? JSON.stringify(parsed.value, null, 2) : text;
}

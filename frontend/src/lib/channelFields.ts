// Channel types come from the backend's plugins (GET /api/channel/types). Each type
// declares its own config fields; these helpers turn them into form items and turn
// the form values back into the channel's `config` JSON string.

export type ConfigFieldType = 'string' | 'number' | 'bool';

export interface ConfigField {
  key: string;
  label: string;
  label_zh?: string;
  type: ConfigFieldType;
  default?: unknown;
  required?: boolean;
  help?: string;
}

export interface ChannelType {
  id: number;
  name: string;
  default_base_url?: string;
  default_models?: string[];
  config_fields?: ConfigField[];
}

export interface FieldItem {
  key: string;
  name: [string, string];
  label: string;
  kind: ConfigFieldType;
  required: boolean;
  help?: string;
  initialValue: string | number | boolean | undefined;
}

export function coerceFieldValue(kind: ConfigFieldType, raw: unknown): string | number | boolean | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (kind === 'bool') {
    if (typeof raw === 'string') return raw === 'true' || raw === '1';
    return Boolean(raw);
  }
  if (kind === 'number') {
    if (raw === '') return undefined;
    const n = Number(raw);
    return Number.isFinite(n) ? n : undefined;
  }
  return String(raw);
}

/** Form items for a type's config fields, labelled in the current language. */
export function describeConfigFields(fields: ConfigField[] | undefined, lang: string): FieldItem[] {
  const zh = lang.toLowerCase().startsWith('zh');
  return (fields ?? [])
    .filter((f) => f && typeof f.key === 'string' && f.key !== '')
    .map((f) => {
      const kind: ConfigFieldType = f.type === 'number' || f.type === 'bool' ? f.type : 'string';
      const initial = coerceFieldValue(kind, f.default);
      return {
        key: f.key,
        name: ['config', f.key] as [string, string],
        label: (zh && f.label_zh) || f.label || f.key,
        kind,
        required: Boolean(f.required),
        help: f.help || undefined,
        initialValue: kind === 'bool' ? Boolean(initial) : initial,
      };
    });
}

/** Parses a channel's `config` string; returns {} for blank or broken JSON. */
export function parseConfig(config: string | null | undefined): Record<string, unknown> {
  if (!config) return {};
  try {
    const v = JSON.parse(config);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Form values for the config fields: stored value, else the field's default. */
export function configFormValues(config: string | null | undefined, fields: ConfigField[] | undefined): Record<string, unknown> {
  const stored = parseConfig(config);
  const out: Record<string, unknown> = {};
  for (const item of describeConfigFields(fields, 'en')) {
    const v = item.key in stored ? coerceFieldValue(item.kind, stored[item.key]) : item.initialValue;
    out[item.key] = item.kind === 'bool' ? Boolean(v) : v;
  }
  return out;
}

/**
 * The `config` JSON string to send: keys of the original config that the type does
 * not declare are kept, declared fields take the form's (coerced) values, and empty
 * optional values are left out.
 */
export function buildConfig(
  values: Record<string, unknown> | undefined,
  fields: ConfigField[] | undefined,
  original?: string | null,
): string {
  const out: Record<string, unknown> = { ...parseConfig(original) };
  for (const item of describeConfigFields(fields, 'en')) {
    const v = coerceFieldValue(item.kind, values?.[item.key]);
    if (v === undefined || v === '') delete out[item.key];
    else out[item.key] = v;
  }
  return Object.keys(out).length ? JSON.stringify(out) : '';
}

/** Splits a comma list, trims, drops blanks and duplicates (order kept). */
export function splitList(value: string | null | undefined): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const part of (value ?? '').split(',')) {
    const s = part.trim();
    if (s && !seen.has(s)) {
      seen.add(s);
      out.push(s);
    }
  }
  return out;
}

export function mergeModels(...lists: (string[] | undefined)[]): string[] {
  return splitList(lists.flatMap((l) => l ?? []).join(','));
}

export function findType(types: ChannelType[], id: number | undefined): ChannelType | undefined {
  return types.find((t) => t.id === id);
}

export function typeName(types: ChannelType[], id: number): string {
  return findType(types, id)?.name ?? `#${id}`;
}

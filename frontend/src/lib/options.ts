// The root settings page: the core's options, how each is edited, and which changed
// values to send (one PUT /api/option/ per key). Plugins' options are added from their
// descriptions (lib/pluginOptions.ts).
import { isJsonOption, parseJson, validateOption, type JsonCheck } from './json';

export type OptionKind = 'bool' | 'string' | 'text' | 'markdown' | 'number' | 'secret' | 'json' | 'select';

/** Text by language, e.g. `{en: 'Poll interval', 'zh-CN': '轮询间隔'}`. */
export type Localized = Record<string, string>;

export interface OptionField {
  key: string;
  kind: OptionKind;
  /** A plugin's own label and help; the core's come from the translations (`option.{key}`). */
  label?: Localized;
  help?: Localized;
  choices?: string[];
  min?: number;
  max?: number;
}

export interface OptionGroup {
  id: string;
  fields: OptionField[];
}

export interface OptionSection {
  id: string;
  groups: OptionGroup[];
  /** Shown only while a loaded plugin provides this (e.g. "payment"). */
  requires?: string;
}

const f = (kind: OptionKind, ...keys: string[]): OptionField[] => keys.map((key) => ({ key, kind }));

export const OPTION_SECTIONS: OptionSection[] = [
  {
    id: 'system',
    groups: [
      { id: 'general', fields: [...f('string', 'SystemName', 'Logo', 'ServerAddress'), ...f('text', 'Footer')] },
      { id: 'content', fields: f('markdown', 'Notice', 'About', 'HomePageContent') },
      {
        id: 'login',
        fields: f(
          'bool',
          'RegisterEnabled',
          'PasswordLoginEnabled',
          'PasswordRegisterEnabled',
          'EmailVerificationEnabled',
          'GitHubOAuthEnabled',
          'WeChatAuthEnabled',
          'OidcEnabled',
          'TurnstileCheckEnabled',
        ),
      },
      { id: 'github', fields: [...f('string', 'GitHubClientId'), ...f('secret', 'GitHubClientSecret')] },
      { id: 'wechat', fields: [...f('string', 'WeChatServerAddress'), ...f('secret', 'WeChatServerToken'), ...f('string', 'WeChatAccountQRCodeImageURL')] },
      { id: 'lark', fields: [...f('string', 'LarkClientId'), ...f('secret', 'LarkClientSecret')] },
      {
        id: 'oidc',
        fields: [
          ...f('string', 'OidcClientId'),
          ...f('secret', 'OidcClientSecret'),
          ...f('string', 'OidcWellKnown', 'OidcAuthorizationEndpoint', 'OidcTokenEndpoint', 'OidcUserinfoEndpoint'),
        ],
      },
      { id: 'turnstile', fields: [...f('string', 'TurnstileSiteKey'), ...f('secret', 'TurnstileSecretKey')] },
      {
        id: 'smtp',
        fields: [...f('string', 'SMTPServer'), ...f('number', 'SMTPPort'), ...f('string', 'SMTPAccount', 'SMTPFrom'), ...f('secret', 'SMTPToken')],
      },
    ],
  },
  {
    id: 'operation',
    groups: [
      { id: 'quota', fields: f('number', 'QuotaForNewUser', 'QuotaForInviter', 'QuotaForInvitee', 'QuotaRemindThreshold', 'PreConsumedQuota', 'QuotaPerUnit') },
      { id: 'channel', fields: [...f('number', 'RetryTimes', 'ChannelDisableThreshold'), ...f('bool', 'AutomaticDisableChannelEnabled', 'AutomaticEnableChannelEnabled')] },
      { id: 'display', fields: f('bool', 'LogConsumeEnabled', 'DisplayInCurrencyEnabled', 'DisplayTokenStatEnabled', 'ApproximateTokenEnabled') },
      { id: 'links', fields: f('string', 'TopUpLink', 'ChatLink') },
    ],
  },
  {
    id: 'ratio',
    groups: [{ id: 'ratios', fields: f('json', 'ModelRatio', 'CompletionRatio', 'GroupRatio', 'ModelPrice') }],
  },
  {
    id: 'payment',
    requires: 'payment',
    groups: [
      {
        id: 'pricing',
        fields: [...f('number', 'Price', 'MinTopUp'), ...f('json', 'TopupGroupRatio', 'PayMethods'), ...f('string', 'CustomCallbackAddress')],
      },
    ],
  },
];

/** Text in `lang`, else English, else any; blank when there is none. */
export function localized(text: Localized | undefined, lang: string): string {
  if (!text) return '';
  return text[lang] || text.en || Object.values(text).find(Boolean) || '';
}

export function optionsToMap(list: { key: string; value: unknown }[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of list ?? []) if (o && typeof o.key === 'string') out[o.key] = o.value === null || o.value === undefined ? '' : String(o.value);
  return out;
}

/** A stored option value as the form shows it. */
export function toFormValue(kind: OptionKind, stored: string | undefined): string | number | boolean | undefined {
  if (kind === 'bool') return stored === 'true';
  if (kind === 'number') {
    if (stored === undefined || stored === '') return undefined;
    const n = Number(stored);
    return Number.isFinite(n) ? n : undefined;
  }
  if (kind === 'secret') return '';
  return stored ?? '';
}

/** A form value as the string the API stores. */
export function toOptionValue(kind: OptionKind, value: unknown): string {
  if (kind === 'bool') return value ? 'true' : 'false';
  if (value === undefined || value === null) return '';
  return String(value);
}

/** The core's JSON options have a shape to check; a plugin's need only be JSON (or blank). */
export function checkJsonOption(key: string, value: string): JsonCheck {
  if (isJsonOption(key)) return validateOption(key, value);
  return value.trim() === '' ? { ok: true, value: null } : parseJson(value);
}

export interface OptionChange {
  key: string;
  value: string;
}

export interface ChangeResult {
  changes: OptionChange[];
  errors: { key: string; check: JsonCheck }[];
}

/**
 * Options of `fields` whose form value differs from the stored one. Blank secrets
 * mean "unchanged"; JSON values must validate (errors are returned, not sent).
 */
export function changedOptions(fields: OptionField[], stored: Record<string, string>, values: Record<string, unknown>): ChangeResult {
  const changes: OptionChange[] = [];
  const errors: ChangeResult['errors'] = [];
  for (const { key, kind } of fields) {
    if (!(key in values)) continue;
    const value = toOptionValue(kind, values[key]);
    if (kind === 'secret') {
      if (value.trim() !== '') changes.push({ key, value: value.trim() });
      continue;
    }
    if (value === (stored[key] ?? '')) continue;
    if (kind === 'json') {
      const check = checkJsonOption(key, value);
      if (!check.ok) {
        errors.push({ key, check });
        continue;
      }
    }
    changes.push({ key, value });
  }
  return { changes, errors };
}

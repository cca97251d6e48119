import { describe, expect, it } from 'vitest';
import en from '../i18n/en.json';
import zh from '../i18n/zh-CN.json';
import { changedOptions, OPTION_SECTIONS, optionsToMap, toFormValue, toOptionValue, type OptionField } from './options';

const fields: OptionField[] = [
  { key: 'SystemName', kind: 'string' },
  { key: 'SMTPPort', kind: 'number' },
  { key: 'SMTPToken', kind: 'secret' },
  { key: 'ModelRatio', kind: 'json' },
  { key: 'RegisterEnabled', kind: 'bool' },
];

describe('changedOptions', () => {
  const stored = { SystemName: 'One API', SMTPPort: '587', ModelRatio: '{"a":1}', RegisterEnabled: 'true' };

  it('sends only changed keys, as strings', () => {
    const r = changedOptions(fields, stored, { SystemName: 'My API', SMTPPort: 587, SMTPToken: '', ModelRatio: '{"a":1}', RegisterEnabled: false });
    expect(r.errors).toEqual([]);
    expect(r.changes).toEqual([
      { key: 'SystemName', value: 'My API' },
      { key: 'RegisterEnabled', value: 'false' },
    ]);
  });

  it('treats a blank secret as unchanged and a typed one as a change', () => {
    expect(changedOptions(fields, stored, { SMTPToken: '   ' }).changes).toEqual([]);
    expect(changedOptions(fields, stored, { SMTPToken: ' s3cret ' }).changes).toEqual([{ key: 'SMTPToken', value: 's3cret' }]);
  });

  it('holds back invalid JSON', () => {
    const r = changedOptions(fields, stored, { ModelRatio: '{"a":' });
    expect(r.changes).toEqual([]);
    expect(r.errors.map((e) => e.key)).toEqual(['ModelRatio']);
  });

  it('ignores fields that are not in the form', () => {
    expect(changedOptions(fields, stored, {}).changes).toEqual([]);
  });
});

describe('option value conversion', () => {
  it('maps stored strings to form values and back', () => {
    expect(toFormValue('bool', 'true')).toBe(true);
    expect(toFormValue('bool', undefined)).toBe(false);
    expect(toFormValue('number', '12')).toBe(12);
    expect(toFormValue('number', '')).toBeUndefined();
    expect(toFormValue('secret', 'x')).toBe('');
    expect(toOptionValue('bool', true)).toBe('true');
    expect(toOptionValue('number', 3)).toBe('3');
    expect(toOptionValue('string', undefined)).toBe('');
  });

  it('turns the option list into a map', () => {
    expect(optionsToMap([{ key: 'A', value: '1' }, { key: 'B', value: null }])).toEqual({ A: '1', B: '' });
    expect(optionsToMap(null)).toEqual({});
  });
});

describe('settings sections', () => {
  const all = OPTION_SECTIONS.flatMap((s) => s.groups.flatMap((g) => g.fields));

  it('names no plugin option (those come from the plugins\' descriptions)', () => {
    expect(all.filter((f) => /^(Mj|Epay|PayAddress)/.test(f.key))).toEqual([]);
  });

  it('lists every option of the brief once', () => {
    const keys = all.map((f) => f.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of ['SystemName', 'SMTPToken', 'QuotaPerUnit', 'ModelPrice', 'PayMethods', 'CustomCallbackAddress', 'HomePageContent']) {
      expect(keys).toContain(k);
    }
  });

  it('has a label for every option, section and group in both languages', () => {
    for (const dict of [en, zh] as Record<string, Record<string, unknown>>[]) {
      const option = dict.option as Record<string, string>;
      const settings = dict.settings as Record<string, Record<string, string>>;
      for (const f of all) expect(option[f.key], f.key).toBeTruthy();
      for (const s of OPTION_SECTIONS) {
        expect(settings.section[s.id], s.id).toBeTruthy();
        for (const g of s.groups) expect(settings.group[g.id], g.id).toBeTruthy();
      }
    }
  });

  it('marks secrets as secret so they are never prefilled', () => {
    const secrets = all.filter((f) => f.kind === 'secret').map((f) => f.key);
    expect(secrets.sort()).toEqual(['GitHubClientSecret', 'LarkClientSecret', 'OidcClientSecret', 'SMTPToken', 'TurnstileSecretKey', 'WeChatServerToken']);
  });
});

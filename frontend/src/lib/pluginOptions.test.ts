import { describe, expect, it } from 'vitest';
import type { OptionSpec } from '../api';
import { localized, OPTION_SECTIONS } from './options';
import { sectionShown, settingsSections, specKind } from './pluginOptions';

const spec = (key: string, over: Partial<OptionSpec> = {}): OptionSpec => ({
  key,
  plugin: 'alpha',
  core: false,
  default: '',
  secret: false,
  type: 'string',
  label: {},
  help: {},
  section: '',
  group: '',
  choices: [],
  minimum: null,
  maximum: null,
  ...over,
});

const SPECS: OptionSpec[] = [
  spec('SystemName', { plugin: 'oneapi.defaults', core: true }),
  spec('AlphaFlag', { type: 'bool', label: { en: 'Flag', 'zh-CN': '开关' } }),
  spec('AlphaWait', { type: 'number', minimum: 0, maximum: 60 }),
  spec('BetaUrl', { plugin: 'beta', section: 'payment' }),
  spec('BetaKey', { plugin: 'beta', section: 'payment', secret: true }),
  spec('GammaMode', { plugin: 'gamma', type: 'select', choices: ['a', 'b'], section: 'operation', group: 'links' }),
];
const ids = (sections: ReturnType<typeof settingsSections>) => sections.map((s) => `${s.id}:${s.groups.map((g) => g.id).join(',')}`);

describe('plugin settings', () => {
  it('show only the options of loaded plugins, never the core ones twice', () => {
    const sections = settingsSections(OPTION_SECTIONS, SPECS, []);
    expect(ids(sections)).toEqual(['system:general,content,login,github,wechat,lark,oidc,turnstile,smtp', 'operation:quota,channel,display,links', 'ratio:ratios']);
  });

  it('give a plugin a tab of its own unless its options name a section', () => {
    const sections = settingsSections(OPTION_SECTIONS, SPECS, [{ name: 'alpha' }]);
    const alpha = sections.find((s) => s.id === 'alpha')!;
    expect(alpha.groups).toHaveLength(1);
    expect(alpha.groups[0]).toMatchObject({ id: 'alpha' });
    expect(alpha.groups[0].fields).toEqual([
      expect.objectContaining({ key: 'AlphaFlag', kind: 'bool', label: { en: 'Flag', 'zh-CN': '开关' } }),
      expect.objectContaining({ key: 'AlphaWait', kind: 'number', min: 0, max: 60 }),
    ]);
  });

  it('put a payment plugin into the payment tab, shown while payments are provided', () => {
    const loaded = [{ name: 'beta', provides: ['payment', 'options'] }];
    const payment = settingsSections(OPTION_SECTIONS, SPECS, loaded).find((s) => s.id === 'payment')!;
    expect(payment.groups.map((g) => g.id)).toEqual(['pricing', 'beta']);
    expect(payment.groups[1].fields.map((f) => [f.key, f.kind])).toEqual([
      ['BetaUrl', 'string'],
      ['BetaKey', 'secret'],
    ]);
  });

  it('add to a core card without changing the core list', () => {
    const before = JSON.stringify(OPTION_SECTIONS);
    const links = settingsSections(OPTION_SECTIONS, SPECS, [{ name: 'gamma' }])
      .find((s) => s.id === 'operation')!
      .groups.find((g) => g.id === 'links')!;
    expect(links.fields.at(-1)).toMatchObject({ key: 'GammaMode', kind: 'select', choices: ['a', 'b'] });
    expect(JSON.stringify(OPTION_SECTIONS)).toBe(before);
  });

  it('edit secrets write-only and unknown types as text', () => {
    expect(specKind({ type: 'string', secret: true, choices: [] })).toBe('secret');
    expect(specKind({ type: 'color', secret: false, choices: [] })).toBe('string');
    expect(specKind({ type: 'select', secret: false, choices: [] })).toBe('string');
    expect(specKind({ type: 'json', secret: false, choices: [] })).toBe('json');
  });

  it('hide a section whose capability no loaded plugin provides', () => {
    const payment = OPTION_SECTIONS.find((s) => s.id === 'payment')!;
    expect(sectionShown(payment, [{ name: 'x', provides: ['routes'] }])).toBe(false);
    expect(sectionShown(payment, [{ name: 'x', provides: ['payment'] }])).toBe(true);
  });
});

describe('localized', () => {
  it('picks the language, else English, else anything', () => {
    expect(localized({ en: 'A', 'zh-CN': '甲' }, 'zh-CN')).toBe('甲');
    expect(localized({ en: 'A' }, 'zh-CN')).toBe('A');
    expect(localized({ de: 'X' }, 'en')).toBe('X');
    expect(localized(undefined, 'en')).toBe('');
  });
});

import { describe, expect, it } from 'vitest';
import en from './en.json';
import zh from './zh-CN.json';
import { MODULES } from '../plugins/registry';
import { pickLanguage } from './index';

type Tree = { [k: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out[key] = v;
    else Object.assign(out, flatten(v, key));
  }
  return out;
}

// the core's translations and those of every plugin UI module (merged the same way at run time)
const plugin = (lang: string) => Object.assign({}, ...MODULES.map((m) => flatten((m.messages?.[lang] ?? {}) as Tree)));
const flatEn: Record<string, string> = { ...flatten(en as Tree), ...plugin('en') };
const flatZh: Record<string, string> = { ...flatten(zh as Tree), ...plugin('zh-CN') };
const vars = (s: string) => [...s.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort();

describe('translations', () => {
  it('have the same keys in en and zh-CN', () => {
    const onlyEn = Object.keys(flatEn).filter((k) => !(k in flatZh));
    const onlyZh = Object.keys(flatZh).filter((k) => !(k in flatEn));
    expect(onlyEn).toEqual([]);
    expect(onlyZh).toEqual([]);
  });

  it('have no empty strings', () => {
    for (const [k, v] of [...Object.entries(flatEn), ...Object.entries(flatZh)]) expect(v.trim(), k).not.toBe('');
  });

  it('use the same {{variables}} in both languages', () => {
    for (const k of Object.keys(flatEn)) expect(vars(flatZh[k] ?? ''), k).toEqual(vars(flatEn[k]));
  });

  it('cover every literal key the source code asks for', () => {
    const sources = import.meta.glob(['../**/*.{ts,tsx}', '!../**/*.test.{ts,tsx}'], { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
    const missing: string[] = [];
    for (const [file, text] of Object.entries(sources)) {
      for (const m of text.matchAll(/\bt\(\s*['"]([a-zA-Z0-9_.]+)['"]/g)) {
        if (!(m[1] in flatEn)) missing.push(`${file}: ${m[1]}`);
      }
      for (const m of text.matchAll(/fail\('([a-zA-Z.]+)'/g)) {
        if (!(m[1] in flatEn)) missing.push(`${file}: ${m[1]}`);
      }
    }
    expect(Object.keys(sources).length).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });

  it('of every plugin module have the same keys in en and zh-CN', () => {
    for (const m of MODULES) {
      const e = Object.keys(flatten((m.messages?.en ?? {}) as Tree)).sort();
      const z = Object.keys(flatten((m.messages?.['zh-CN'] ?? {}) as Tree)).sort();
      expect(z, m.name).toEqual(e);
    }
  });

  it('label every plugin menu entry', () => {
    for (const item of MODULES.flatMap((m) => m.nav ?? [])) {
      expect(flatEn[`menu.${item.key}`], item.key).toBeTruthy();
      expect(flatZh[`menu.${item.key}`], item.key).toBeTruthy();
    }
  });

  it('cover the keys built at run time', () => {
    for (const k of ['menu.home', 'menu.dashboard', 'menu.token', 'menu.channel', 'menu.user', 'menu.redemption', 'menu.log', 'menu.topup', 'menu.setting', 'menu.profile', 'menu.about']) {
      expect(flatEn[k], k).toBeTruthy();
    }
    for (const s of [1, 2, 3, 4]) expect(flatEn[`status.token.${s}`]).toBeTruthy();
    for (const s of [1, 2, 3, 4, 5]) expect(flatEn[`status.log.${s}`]).toBeTruthy();
    for (const s of ['disable', 'demote', 'delete']) expect(flatEn[`user.confirm.${s}`]).toBeTruthy();
    for (const s of ['testAll', 'balanceAll', 'deleteDisabled']) expect(flatEn[`channel.${s}Done`]).toBeTruthy();
  });
});

describe('pickLanguage', () => {
  it('prefers the stored choice', () => {
    expect(pickLanguage('en', ['zh-CN'])).toBe('en');
    expect(pickLanguage('zh-CN', ['en-US'])).toBe('zh-CN');
  });

  it('follows the browser otherwise', () => {
    expect(pickLanguage(null, ['zh-TW', 'en'])).toBe('zh-CN');
    expect(pickLanguage(null, ['en-GB'])).toBe('en');
    expect(pickLanguage('fr', ['de-DE', 'zh'])).toBe('zh-CN');
  });

  it('falls back to English', () => {
    expect(pickLanguage(undefined, ['de-DE'])).toBe('en');
    expect(pickLanguage(null, undefined)).toBe('en');
  });
});

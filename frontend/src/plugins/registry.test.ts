import { describe, expect, it } from 'vitest';
import i18n from '../i18n';
import { activeModules, collectModules, mergeNav, MODULES, navOf, registerMessages, routesOf, slotsOf } from './registry';
import type { PluginModule, PluginUi } from './types';

const Page = () => null;
const fake: Record<string, { default: PluginUi }> = {
  './zeta/index.ts': { default: { nav: [{ key: 'zeta', path: '/zeta', icon: null, minRole: 1, after: 'log' }] } },
  './alpha/index.tsx': {
    default: {
      routes: [{ path: 'alpha', component: Page, minRole: 10 }],
      messages: { en: { menu: { alpha: 'Alpha' } }, 'zh-CN': { menu: { alpha: '阿尔法' } } },
    },
  },
  './pay/index.ts': { default: { provides: 'payment', slots: { topup: Page } } },
};

describe('plugin UI modules', () => {
  const modules = collectModules(fake);

  it('are named by their folder', () => {
    expect(modules.map((m) => m.name)).toEqual(['alpha', 'pay', 'zeta']);
  });

  it('are active only while their backend plugin is loaded', () => {
    expect(activeModules(modules, undefined)).toEqual([]);
    expect(activeModules(modules, []).map((m) => m.name)).toEqual([]);
    expect(activeModules(modules, [{ name: 'zeta', provides: ['routes'] }]).map((m) => m.name)).toEqual(['zeta']);
    expect(activeModules(modules, [{ name: 'alpha' }, { name: 'other' }]).map((m) => m.name)).toEqual(['alpha']);
  });

  it('can follow a capability instead of a name', () => {
    expect(activeModules(modules, [{ name: 'pay' }]).map((m) => m.name)).toEqual([]);
    expect(activeModules(modules, [{ name: 'somepay', provides: ['payment', 'options'] }]).map((m) => m.name)).toEqual(['pay']);
  });

  it('collect routes, slots and menu items of the active ones', () => {
    const active = activeModules(modules, [{ name: 'alpha' }, { name: 'zeta' }]);
    expect(routesOf(active).map((r) => r.path)).toEqual(['alpha']);
    expect(slotsOf(active, 'topup')).toEqual([]);
    expect(slotsOf(activeModules(modules, [{ name: 'x', provides: ['payment'] }]), 'topup').map((s) => s.name)).toEqual(['pay']);
    expect(navOf(active).map((n) => n.key)).toEqual(['zeta']);
  });

  it('add their translations', () => {
    registerMessages(modules);
    expect(i18n.getFixedT('en')('menu.alpha')).toBe('Alpha');
    expect(i18n.getFixedT('zh-CN')('menu.alpha')).toBe('阿尔法');
  });
});

describe('mergeNav', () => {
  const core = ['home', 'token', 'log', 'topup', 'setting', 'profile'].map((key) => ({ key, path: `/${key}`, minRole: 1 }));
  const item = (key: string, after?: string) => ({ key, path: `/${key}`, minRole: 1, icon: null, after });

  it('puts an item after the one it names, else before the settings', () => {
    expect(mergeNav(core, [item('a', 'topup'), item('b')]).map((i) => i.key)).toEqual(['home', 'token', 'log', 'topup', 'a', 'b', 'setting', 'profile']);
  });

  it('never shadows a core item', () => {
    expect(mergeNav(core, [item('token', 'log')]).map((i) => i.key)).toEqual(core.map((i) => i.key));
  });
});

describe('the core UI', () => {
  it('finds the modules under src/plugins', () => {
    expect(MODULES.length).toBeGreaterThan(0);
    for (const m of MODULES as PluginModule[]) expect(m.name).toMatch(/^[a-z0-9_-]+$/);
  });

  it('names no plugin outside src/plugins', () => {
    const sources = import.meta.glob(['../**/*.{ts,tsx,json}', '!./**', '!../**/*.test.{ts,tsx}', '!../api-types.ts'], {
      query: '?raw',
      import: 'default',
      eager: true,
    }) as Record<string, string>;
    const names = MODULES.filter((m) => !m.provides).map((m) => m.name);
    const found = Object.entries(sources).flatMap(([file, text]) =>
      names.filter((n) => new RegExp(`\\b${n}\\b`, 'i').test(text)).map((n) => `${file}: ${n}`),
    );
    expect(Object.keys(sources).length).toBeGreaterThan(20);
    expect(found).toEqual([]);
  });
});

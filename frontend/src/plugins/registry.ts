// Plugin UI modules: found by Vite at build time (every src/plugins/<name>/index.ts[x]),
// each shown only while /api/status lists its backend plugin.
import i18n from '../i18n';
import type { LoadedPlugin, PluginModule, PluginNavItem, PluginUi, SlotName } from './types';

/** Modules from an `import.meta.glob` result: the folder is the module's name. */
export function collectModules(found: Record<string, { default: PluginUi }>): PluginModule[] {
  return Object.entries(found)
    .map(([path, mod]) => ({ ...mod.default, name: path.split('/').slice(-2)[0] }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export const MODULES: PluginModule[] = collectModules(
  import.meta.glob<{ default: PluginUi }>('./*/index.{ts,tsx}', { eager: true }),
);

/** Adds the modules' translations (all of them: a label may be needed before status loads). */
export function registerMessages(modules: PluginModule[]): void {
  for (const m of modules) {
    for (const [lang, messages] of Object.entries(m.messages ?? {})) {
      i18n.addResourceBundle(lang, 'translation', messages, true, false);
    }
  }
}

registerMessages(MODULES);

/** The modules whose backend plugin (or capability) is loaded. */
export function activeModules(modules: PluginModule[], loaded: LoadedPlugin[] | undefined): PluginModule[] {
  const names = new Set((loaded ?? []).map((p) => p.name));
  const provided = new Set((loaded ?? []).flatMap((p) => p.provides ?? []));
  return modules.filter((m) => (m.provides ? provided.has(m.provides) : names.has(m.plugin ?? m.name)));
}

export interface NavEntry {
  key: string;
  path: string;
  minRole: number;
}

/** The core menu with the active modules' items put after the item they name. */
export function mergeNav<T extends NavEntry>(core: T[], extra: (PluginNavItem & T)[]): T[] {
  const out = [...core];
  for (const item of extra) {
    if (out.some((i) => i.key === item.key)) continue;
    const at = item.after ? out.findIndex((i) => i.key === item.after) : -1;
    // before the settings and account pages when no place is named
    const fallback = out.findIndex((i) => i.key === 'setting');
    const index = at >= 0 ? at + 1 : fallback >= 0 ? fallback : out.length;
    out.splice(index, 0, item);
  }
  return out;
}

export function navOf(modules: PluginModule[]): PluginNavItem[] {
  return modules.flatMap((m) => m.nav ?? []);
}

export function routesOf(modules: PluginModule[]) {
  return modules.flatMap((m) => m.routes ?? []);
}

export function slotsOf(modules: PluginModule[], slot: SlotName) {
  return modules.flatMap((m) => (m.slots?.[slot] ? [{ name: m.name, Component: m.slots[slot] }] : []));
}

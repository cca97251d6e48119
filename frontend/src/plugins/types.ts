// What a plugin's UI module (src/plugins/<name>/index.ts[x]) may contribute. The core
// knows this contract only: it never names a plugin.
import type { ComponentType, ReactNode } from 'react';

/** i18next resources of one language (merged into the default namespace). */
export type Messages = { [key: string]: string | Messages };

export interface PluginNavItem {
  /** Menu key; the item's test id is `menu-{key}` and its label `t('menu.{key}')`. */
  key: string;
  path: string;
  icon: ReactNode;
  /** 1 = signed in, 10 = admin, 100 = root */
  minRole: number;
  /** The core menu key this item follows (default: at the end, before the account pages). */
  after?: string;
}

export interface PluginRoute {
  /** Path without the leading slash, e.g. `midjourney`. */
  path: string;
  /** Load it lazily (`lazy(() => import('./Page'))`) to keep it out of the main bundle. */
  component: ComponentType;
  minRole: number;
}

/** Places in core pages where plugins may render something. */
export type SlotName = 'topup';

export interface PluginUi {
  /**
   * When the module is active. Default: /api/status lists a plugin named like the module's
   * folder. `provides` instead: any loaded plugin provides that (e.g. "payment").
   */
  plugin?: string;
  provides?: string;
  /** Translations, keyed by language (`en`, `zh-CN`). */
  messages?: Record<string, Messages>;
  nav?: PluginNavItem[];
  routes?: PluginRoute[];
  slots?: Partial<Record<SlotName, ComponentType>>;
}

/** A discovered module with the name of its folder. */
export interface PluginModule extends PluginUi {
  name: string;
}

/** A loaded backend plugin as /api/status lists it. */
export interface LoadedPlugin {
  name: string;
  provides?: string[];
}

// The plugin UI modules active for the loaded backend plugins (from /api/status).
import { useMemo } from 'react';
import { useSession } from '../session';
import { activeModules, MODULES } from './registry';
import type { PluginModule } from './types';

export function usePlugins(): PluginModule[] {
  const { status } = useSession();
  const loaded = status.plugins;
  return useMemo(() => activeModules(MODULES, loaded), [loaded]);
}

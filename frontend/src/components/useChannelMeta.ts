// Channel types (from the backend's plugins), all known models per type, and groups.
import { useEffect, useState } from 'react';
import { api } from '../api';
import type { ChannelType } from '../lib/channelFields';

export interface ChannelMeta {
  types: ChannelType[];
  modelsByType: Record<string, string[]>;
  groups: string[];
  loaded: boolean;
  error: string;
}

export function useChannelMeta(): ChannelMeta {
  const [meta, setMeta] = useState<ChannelMeta>({ types: [], modelsByType: {}, groups: [], loaded: false, error: '' });
  useEffect(() => {
    let alive = true;
    Promise.allSettled([
      api.get<ChannelType[]>('/api/channel/types'),
      api.get<Record<string, string[]>>('/api/models'),
      api.get<string[]>('/api/group/'),
    ]).then(([types, models, groups]) => {
      if (!alive) return;
      setMeta({
        types: types.status === 'fulfilled' && Array.isArray(types.value) ? types.value : [],
        modelsByType: models.status === 'fulfilled' && models.value && typeof models.value === 'object' ? models.value : {},
        groups: groups.status === 'fulfilled' && Array.isArray(groups.value) ? groups.value : [],
        loaded: true,
        error: types.status === 'rejected' ? String(types.reason?.message ?? types.reason) : '',
      });
    });
    return () => {
      alive = false;
    };
  }, []);
  return meta;
}

/** Every model any type knows, for the "all models" button. */
export function allKnownModels(meta: ChannelMeta): string[] {
  const set = new Set<string>();
  for (const list of Object.values(meta.modelsByType)) for (const m of list ?? []) set.add(m);
  for (const t of meta.types) for (const m of t.default_models ?? []) set.add(m);
  return [...set].sort();
}

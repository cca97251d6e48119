// Model names the signed-in user may call (GET /api/user/available_models), loaded once.
import { useEffect, useState } from 'react';
import { api } from '../api';

let cache: Promise<string[]> | null = null;

export function loadAvailableModels(): Promise<string[]> {
  cache ??= api.get<string[]>('/api/user/available_models').then((m) => (Array.isArray(m) ? m : []));
  cache.catch(() => {
    cache = null;
  });
  return cache;
}

/** Available models, fetched (once per page load) while `active`. */
export function useAvailableModels(active = true): string[] {
  const [models, setModels] = useState<string[]>([]);
  useEffect(() => {
    if (!active) return;
    let alive = true;
    loadAvailableModels()
      .then((m) => alive && setModels(m))
      .catch(() => undefined);
    return () => {
      alive = false;
    };
  }, [active]);
  return models;
}

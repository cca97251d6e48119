// State of one paginated list: page, page size, items, total, loading and error.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorMessage, type Query } from '../api';
import { DEFAULT_PAGE_SIZE, normalizePageSize } from '../lib/pagination';

const PAGE_SIZE_KEY = 'oneapi_page_size';

function storedPageSize(): number {
  try {
    return normalizePageSize(localStorage.getItem(PAGE_SIZE_KEY) ?? DEFAULT_PAGE_SIZE);
  } catch {
    return DEFAULT_PAGE_SIZE;
  }
}

export interface ListState<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  loading: boolean;
  error: string;
  onPageChange: (page: number, pageSize: number) => void;
  /** Loads the current page again; resolves once it has arrived. */
  reload: () => Promise<void>;
  setItems: (fn: (items: T[]) => T[]) => void;
}

interface Loaded<T> {
  /** The request this result answers (path, filters, page, size, reload count). */
  request: string;
  items: T[];
  total: number;
  error: string;
}

/** Loads `path` with `filters`; a change of path or filters goes back to page 1. */
export function useList<T>(path: string, filters: Query = {}): ListState<T> {
  const filtersJson = JSON.stringify(filters);
  const key = `${path}?${filtersJson}`;
  // The page belongs to one path+filters combination; any other starts at page 1.
  const [pos, setPos] = useState({ key, page: 1 });
  const page = pos.key === key ? pos.page : 1;
  const [pageSize, setPageSize] = useState(storedPageSize);
  const [round, setRound] = useState(0);
  const request = `${key}#${page}#${pageSize}#${round}`;
  const [loaded, setLoaded] = useState<Loaded<T>>({ request: '', items: [], total: 0, error: '' });
  const waiting = useRef<(() => void)[]>([]);

  useEffect(() => {
    let alive = true;
    const done = (next: (previous: Loaded<T>) => Loaded<T>) => {
      if (!alive) return;
      setLoaded(next);
      for (const resolve of waiting.current.splice(0)) resolve();
    };
    api
      .list<T>(path, page, pageSize, JSON.parse(filtersJson) as Query)
      .then((res) => {
        // A page past the end after deletions: show the last page instead.
        const last = Math.max(1, Math.ceil(res.total / pageSize));
        if (alive && res.items.length === 0 && page > last) {
          setPos({ key, page: last });
          return;
        }
        done(() => ({ request, items: res.items, total: res.total, error: '' }));
      })
      .catch((e) => done((previous) => ({ request, items: [], total: previous.total, error: errorMessage(e) })));
    return () => {
      alive = false;
    };
  }, [request, path, page, pageSize, filtersJson, key]);

  const onPageChange = useCallback(
    (p: number, size: number) => {
      const s = normalizePageSize(size);
      try {
        localStorage.setItem(PAGE_SIZE_KEY, String(s));
      } catch {
        // ignore
      }
      setPageSize(s);
      setPos({ key, page: p });
    },
    [key],
  );

  const reload = useCallback(
    () =>
      new Promise<void>((resolve) => {
        waiting.current.push(resolve);
        setRound((r) => r + 1);
      }),
    [],
  );

  const setItems = useCallback((fn: (items: T[]) => T[]) => setLoaded((l) => ({ ...l, items: fn(l.items) })), []);

  return {
    items: loaded.items,
    total: loaded.total,
    page,
    pageSize,
    loading: loaded.request !== request,
    error: loaded.error,
    onPageChange,
    reload,
    setItems,
  };
}

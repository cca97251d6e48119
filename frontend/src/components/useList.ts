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
  reload: () => Promise<void>;
  setItems: (fn: (items: T[]) => T[]) => void;
}

/** Loads `path` with `filters`; a change of path or filters goes back to page 1. */
export function useList<T>(path: string, filters: Query = {}, enabled = true): ListState<T> {
  const [items, setItemsState] = useState<T[]>([]);
  const [total, setTotal] = useState(0);
  const key = `${path}?${JSON.stringify(filters)}`;
  // The page belongs to one path+filters combination; any other starts at page 1.
  const [pos, setPos] = useState({ key, page: 1 });
  const page = pos.key === key ? pos.page : 1;
  const [pageSize, setPageSize] = useState(storedPageSize);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const seq = useRef(0);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  const load = useCallback(
    async (p: number, size: number) => {
      const my = ++seq.current;
      setLoading(true);
      try {
        const res = await api.list<T>(path, p, size, filtersRef.current);
        if (my !== seq.current) return;
        // A page past the end after deletions: show the last page instead.
        const last = Math.max(1, Math.ceil(res.total / size));
        if (res.items.length === 0 && p > last) {
          setPos({ key, page: last });
          return;
        }
        setItemsState(res.items);
        setTotal(res.total);
        setError('');
      } catch (e) {
        if (my !== seq.current) return;
        setError(errorMessage(e));
        setItemsState([]);
      } finally {
        if (my === seq.current) setLoading(false);
      }
    },
    [key, path],
  );

  useEffect(() => {
    if (enabled) void load(page, pageSize);
  }, [load, page, pageSize, enabled]);

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

  return {
    items,
    total,
    page,
    pageSize,
    loading,
    error,
    onPageChange,
    reload: () => load(page, pageSize),
    setItems: (fn) => setItemsState(fn),
  };
}

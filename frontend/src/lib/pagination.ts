// Building list query parameters in One API's convention: `p` is the 0-based page
// index, `page_size` one of PAGE_SIZES.

export const PAGE_SIZES = [10, 20, 50, 100] as const;
export const DEFAULT_PAGE_SIZE = 10;

export type QueryValue = string | number | boolean | null | undefined;

export function normalizePageSize(size: unknown): number {
  const n = Number(size);
  return (PAGE_SIZES as readonly number[]).includes(n) ? n : DEFAULT_PAGE_SIZE;
}

/**
 * `page` is 1-based as shown to people; the result has `p = page - 1`.
 * Filters that are undefined, null or blank strings are left out.
 */
export function buildListParams(
  page: number,
  pageSize: number,
  filters: Record<string, QueryValue> = {},
): Record<string, string> {
  const p = Math.max(0, Math.floor(Number(page) || 1) - 1);
  const params: Record<string, string> = { p: String(p), page_size: String(normalizePageSize(pageSize)) };
  for (const [k, v] of Object.entries(filters)) {
    if (v === undefined || v === null) continue;
    const s = typeof v === 'string' ? v.trim() : String(v);
    if (s === '') continue;
    params[k] = s;
  }
  return params;
}

export function toQueryString(params: Record<string, QueryValue> = {}): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    sp.append(k, String(v));
  }
  const s = sp.toString();
  return s ? `?${s}` : '';
}


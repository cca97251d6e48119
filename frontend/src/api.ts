// The backend's /api client: same origin, session cookie, One API's envelope
// {success, message, data[, total]}. Failures throw ApiError carrying `message`.
import type { components } from './api-types';
import { buildListParams, toQueryString, type QueryValue } from './lib/pagination';

export type Query = Record<string, QueryValue>;

export interface Envelope<T> {
  success: boolean;
  message: string;
  data: T;
  total?: number;
}

export class ApiError extends Error {
  status: number;
  constructor(message: string, status = 200) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** Fired on HTTP 401 so the session can forget the user. */
export const UNAUTHORIZED_EVENT = 'oneapi:unauthorized';

async function request<T>(method: string, path: string, query?: Query, body?: unknown): Promise<Envelope<T>> {
  const init: RequestInit = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  };
  if (body !== undefined) {
    init.headers = { ...init.headers, 'Content-Type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path + toQueryString(query), init);
  } catch (e) {
    throw new ApiError(e instanceof Error ? e.message : 'Network error', 0);
  }
  if (res.status === 401 && typeof window !== 'undefined') {
    window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
  }
  let payload: Envelope<T> | null;
  try {
    payload = (await res.json()) as Envelope<T>;
  } catch {
    payload = null;
  }
  if (!payload || typeof payload !== 'object') {
    throw new ApiError(`HTTP ${res.status} ${res.statusText}`.trim(), res.status);
  }
  if (!payload.success) {
    // New API's top-up routes say {message: "error", data: "<why>"}.
    const why = payload.message === 'error' && typeof payload.data === 'string' ? payload.data : payload.message;
    throw new ApiError(why || `HTTP ${res.status}`, res.status);
  }
  return payload;
}

export interface ListResult<T> {
  items: T[];
  total: number;
}

/** Accepts `data: [...]` with top-level `total` (the contract) or `data: {items|data, total}`. */
export function toListResult<T>(env: Envelope<unknown>): ListResult<T> {
  const d = env.data as unknown;
  if (Array.isArray(d)) return { items: d as T[], total: typeof env.total === 'number' ? env.total : d.length };
  if (d && typeof d === 'object') {
    const o = d as { items?: T[]; data?: T[]; total?: number };
    const items = o.items ?? o.data ?? [];
    return { items, total: typeof o.total === 'number' ? o.total : env.total ?? items.length };
  }
  return { items: [], total: env.total ?? 0 };
}

export const api = {
  async get<T>(path: string, query?: Query): Promise<T> {
    return (await request<T>('GET', path, query)).data;
  },
  async post<T>(path: string, body?: unknown, query?: Query): Promise<T> {
    return (await request<T>('POST', path, query, body ?? {})).data;
  },
  async put<T>(path: string, body?: unknown, query?: Query): Promise<T> {
    return (await request<T>('PUT', path, query, body ?? {})).data;
  },
  async del<T>(path: string, query?: Query): Promise<T> {
    return (await request<T>('DELETE', path, query)).data;
  },
  /** GET a paginated list; `page` is 1-based. */
  async list<T>(path: string, page: number, pageSize: number, filters: Query = {}): Promise<ListResult<T>> {
    const env = await request<unknown>('GET', path, buildListParams(page, pageSize, filters));
    return toListResult<T>(env);
  },
  /** The envelope's message of a successful call (some actions only report text). */
  async message(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, query?: Query): Promise<Envelope<unknown>> {
    return request<unknown>(method, path, query, body);
  },
};

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

// ---- data shapes -------------------------------------------------------------

export const ROLE_USER = 1;
export const ROLE_ADMIN = 10;
export const ROLE_ROOT = 100;

// The shapes of `data`, generated from the API's OpenAPI document (src/api-types.ts,
// `npm run gen:api`); a test fails when the committed document differs from the API.
type Schemas = components['schemas'];

export type PayMethod = Schemas['PayMethodOut'];
export type PluginInfo = Schemas['PluginOut'];
/** /api/status; empty until it has loaded. */
export type Status = Partial<Schemas['StatusOut']>;
export type User = Schemas['UserOut'];
export type Token = Schemas['TokenOut'];
export type Channel = Schemas['ChannelOut'];
export type LogEntry = Schemas['LogOut'];
export type LogStat = Schemas['LogStatOut'];
export type Redemption = Schemas['RedemptionOut'];
export type OptionItem = Schemas['OptionItemOut'];
export type OptionSpec = Schemas['OptionSpecOut'];
export type TopUpOrder = Schemas['OrderOut'];

// The backend's /api client: same origin, session cookie, One API's envelope
// {success, message, data[, total]}. Failures throw ApiError carrying `message`.
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
    throw new ApiError(payload.message || `HTTP ${res.status}`, res.status);
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

export interface PayMethod {
  name: string;
  type: string;
  color?: string;
}

export interface Status {
  version?: string;
  system_name?: string;
  logo?: string;
  footer_html?: string;
  start_time?: number;
  quota_per_unit?: number;
  display_in_currency?: boolean;
  top_up_link?: string;
  chat_link?: string;
  github_oauth?: boolean;
  github_client_id?: string;
  turnstile_check?: boolean;
  turnstile_site_key?: string;
  email_verification?: boolean;
  register_enabled?: boolean;
  password_register_enabled?: boolean;
  password_login_enabled?: boolean;
  server_address?: string;
  root_password_unchanged?: boolean;
  pay_methods?: PayMethod[];
  min_topup?: number;
  [key: string]: unknown;
}

export interface User {
  id: number;
  username: string;
  display_name?: string;
  role: number;
  status: number;
  email?: string;
  quota: number;
  used_quota: number;
  request_count: number;
  group?: string;
  aff_code?: string;
  root_password_unchanged?: boolean;
}

export interface Token {
  id: number;
  user_id?: number;
  key: string;
  name: string;
  status: number;
  created_time: number;
  accessed_time?: number;
  expired_time: number;
  remain_quota: number;
  unlimited_quota: boolean;
  used_quota: number;
  models?: string | null;
  subnet?: string | null;
}

export interface Channel {
  id: number;
  type: number;
  key?: string;
  name: string;
  status: number;
  base_url?: string | null;
  models?: string;
  group?: string;
  model_mapping?: string | null;
  priority?: number | null;
  weight?: number | null;
  config?: string | null;
  other?: string | null;
  system_prompt?: string | null;
  response_time?: number;
  balance?: number;
  balance_updated_time?: number;
  used_quota?: number;
  test_time?: number;
  created_time?: number;
}

export interface LogEntry {
  id: number;
  created_at: number;
  type: number;
  content: string;
  username?: string;
  token_name?: string;
  model_name?: string;
  quota: number;
  prompt_tokens: number;
  completion_tokens: number;
  channel?: number;
  elapsed_time?: number;
  is_stream?: boolean;
  request_id?: string;
}

export interface Redemption {
  id: number;
  name: string;
  key: string;
  status: number;
  quota: number;
  created_time: number;
  redeemed_time?: number;
}

export interface OptionItem {
  key: string;
  value: string;
}

export interface TopUpOrder {
  id?: number;
  trade_no: string;
  amount: number;
  money: number;
  payment_method: string;
  status: string | number;
  create_time: number;
  complete_time?: number;
}

export interface PayForm {
  url: string;
  method?: 'GET' | 'POST' | string;
  fields?: Record<string, string | number>;
}

export interface MjTask {
  id: number;
  mj_id: string;
  action: string;
  prompt: string;
  status: string;
  progress: string;
  image_url?: string;
  fail_reason?: string;
  submit_time?: number;
  finish_time?: number;
  quota?: number;
  channel_id?: number;
  user_id?: number;
}

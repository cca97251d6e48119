// Aggregation of GET /api/user/dashboard rows for the charts.

export interface DashboardRow {
  Day: string;
  ModelName: string;
  RequestCount: number;
  Quota: number;
  PromptTokens: number;
  CompletionTokens: number;
}

export interface DayPoint {
  day: string;
  quota: number;
  requests: number;
  tokens: number;
}

export interface ModelPoint {
  model: string;
  quota: number;
  requests: number;
  tokens: number;
}

const num = (v: unknown) => Number(v) || 0;

export function byDay(rows: DashboardRow[]): DayPoint[] {
  const map = new Map<string, DayPoint>();
  for (const r of rows ?? []) {
    const p = map.get(r.Day) ?? { day: r.Day, quota: 0, requests: 0, tokens: 0 };
    p.quota += num(r.Quota);
    p.requests += num(r.RequestCount);
    p.tokens += num(r.PromptTokens) + num(r.CompletionTokens);
    map.set(r.Day, p);
  }
  return [...map.values()].sort((a, b) => a.day.localeCompare(b.day));
}

export function byModel(rows: DashboardRow[]): ModelPoint[] {
  const map = new Map<string, ModelPoint>();
  for (const r of rows ?? []) {
    const name = r.ModelName || '-';
    const p = map.get(name) ?? { model: name, quota: 0, requests: 0, tokens: 0 };
    p.quota += num(r.Quota);
    p.requests += num(r.RequestCount);
    p.tokens += num(r.PromptTokens) + num(r.CompletionTokens);
    map.set(name, p);
  }
  return [...map.values()].sort((a, b) => b.quota - a.quota || b.requests - a.requests);
}

/** One row per day with a quota column per model, for a stacked bar chart. */
export function stackedByDay(rows: DashboardRow[]): { data: Record<string, string | number>[]; models: string[] } {
  const models = byModel(rows).map((m) => m.model);
  const days = new Map<string, Record<string, string | number>>();
  for (const r of rows ?? []) {
    const row = days.get(r.Day) ?? { day: r.Day };
    const name = r.ModelName || '-';
    row[name] = num(row[name]) + num(r.Quota);
    days.set(r.Day, row);
  }
  const data = [...days.values()].sort((a, b) => String(a.day).localeCompare(String(b.day)));
  return { data, models };
}

// Quota, money and time formatting shared by every page.
import dayjs from 'dayjs';

export interface QuotaDisplay {
  displayInCurrency: boolean;
  quotaPerUnit: number;
}

export const DEFAULT_QUOTA_PER_UNIT = 500000;

/** Quota as dollars, rounded to at most `digits` decimals (never fewer than 2). */
export function quotaToDollars(quota: number, quotaPerUnit: number, digits = 6): string {
  const per = quotaPerUnit > 0 ? quotaPerUnit : DEFAULT_QUOTA_PER_UNIT;
  const value = (Number(quota) || 0) / per;
  let text = value.toFixed(digits);
  if (text.includes('.')) {
    text = text.replace(/0+$/, '');
    const decimals = text.length - text.indexOf('.') - 1;
    if (decimals < 2) text += '0'.repeat(2 - decimals);
  }
  if (/^-0(\.0+)?$/.test(text)) text = text.slice(1);
  return text;
}

/** `$1.234567` when the site displays currency, else the raw quota with separators. */
export function formatQuota(quota: number | null | undefined, display: QuotaDisplay, digits = 6): string {
  const q = Number(quota) || 0;
  if (display.displayInCurrency) {
    const s = quotaToDollars(q, display.quotaPerUnit, digits);
    return s.startsWith('-') ? `-$${s.slice(1)}` : `$${s}`;
  }
  return q.toLocaleString('en-US');
}

/**
 * Unix time → local `YYYY-MM-DD HH:mm:ss`; 0 or negative → ''. Values above 1e11 are
 * taken as milliseconds (some plugins store task times in ms), the rest as seconds.
 */
export function formatTime(unix: number | null | undefined): string {
  const v = Number(unix) || 0;
  if (v <= 0) return '';
  return (v > 1e11 ? dayjs(v) : dayjs.unix(v)).format('YYYY-MM-DD HH:mm:ss');
}

/** Keys are stored without the prefix; clients use `sk-` + key. */
export function fullKey(key: string): string {
  if (!key) return '';
  return key.startsWith('sk-') ? key : `sk-${key}`;
}

export function maskKey(key: string): string {
  const k = fullKey(key);
  if (k.length <= 12) return k;
  return `${k.slice(0, 7)}****${k.slice(-4)}`;
}

/** Milliseconds → `1.23 s` (or `350 ms` below one second). */
export function formatDuration(ms: number | null | undefined): string {
  const v = Number(ms) || 0;
  if (v <= 0) return '';
  if (v < 1000) return `${v} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}

export function formatNumber(n: number | null | undefined): string {
  return (Number(n) || 0).toLocaleString('en-US');
}

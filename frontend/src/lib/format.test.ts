import { describe, expect, it } from 'vitest';
import { formatDuration, formatQuota, formatTime, fullKey, maskKey, quotaToDollars } from './format';

const usd = { displayInCurrency: true, quotaPerUnit: 500000 };
const raw = { displayInCurrency: false, quotaPerUnit: 500000 };

describe('quota formatting', () => {
  it('shows dollars with at most 6 decimals and at least 2', () => {
    expect(formatQuota(500000, usd)).toBe('$1.00');
    expect(formatQuota(1000, usd)).toBe('$0.002');
    expect(formatQuota(1, usd)).toBe('$0.000002');
    expect(formatQuota(0, usd)).toBe('$0.00');
    expect(formatQuota(123456789, usd)).toBe('$246.913578');
  });

  it('rounds below the sixth decimal', () => {
    expect(quotaToDollars(0.1, 500000)).toBe('0.00');
    expect(quotaToDollars(3, 7)).toBe('0.428571');
  });

  it('honours fewer digits', () => {
    expect(formatQuota(123456789, usd, 2)).toBe('$246.91');
  });

  it('puts the minus sign before the dollar sign', () => {
    expect(formatQuota(-500000, usd)).toBe('-$1.00');
  });

  it('uses the site quota per unit, falling back to 500000', () => {
    expect(formatQuota(1000, { displayInCurrency: true, quotaPerUnit: 1000 })).toBe('$1.00');
    expect(formatQuota(500000, { displayInCurrency: true, quotaPerUnit: 0 })).toBe('$1.00');
  });

  it('shows raw quota with separators when currency display is off', () => {
    expect(formatQuota(1234567, raw)).toBe('1,234,567');
    expect(formatQuota(undefined, raw)).toBe('0');
    expect(formatQuota(null, usd)).toBe('$0.00');
  });
});

describe('other formatting', () => {
  it('prefixes keys with sk- once', () => {
    expect(fullKey('abc')).toBe('sk-abc');
    expect(fullKey('sk-abc')).toBe('sk-abc');
    expect(fullKey('')).toBe('');
  });

  it('masks long keys', () => {
    const k = 'a'.repeat(44) + 'wxyz';
    expect(maskKey(k)).toBe('sk-aaaa****wxyz');
  });

  it('formats unix seconds and milliseconds, blank for none', () => {
    expect(formatTime(0)).toBe('');
    expect(formatTime(-1)).toBe('');
    expect(formatTime(1700000000)).toMatch(/^2023-11-1\d \d\d:\d\d:\d\d$/);
    expect(formatTime(1700000000000)).toBe(formatTime(1700000000));
  });

  it('formats durations', () => {
    expect(formatDuration(0)).toBe('');
    expect(formatDuration(350)).toBe('350 ms');
    expect(formatDuration(1234)).toBe('1.23 s');
  });
});

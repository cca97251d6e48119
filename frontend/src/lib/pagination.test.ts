import { describe, expect, it } from 'vitest';
import { buildListParams, normalizePageSize, toQueryString } from './pagination';

describe('buildListParams', () => {
  it('turns the 1-based page into the 0-based p', () => {
    expect(buildListParams(1, 10)).toEqual({ p: '0', page_size: '10' });
    expect(buildListParams(3, 20)).toEqual({ p: '2', page_size: '20' });
  });

  it('never goes below page 0', () => {
    expect(buildListParams(0, 10).p).toBe('0');
    expect(buildListParams(-5, 10).p).toBe('0');
    expect(buildListParams(Number.NaN, 10).p).toBe('0');
  });

  it('only allows page sizes 10, 20, 50, 100', () => {
    expect(buildListParams(1, 50).page_size).toBe('50');
    expect(buildListParams(1, 100).page_size).toBe('100');
    expect(buildListParams(1, 7).page_size).toBe('10');
    expect(buildListParams(1, 1000).page_size).toBe('10');
    expect(normalizePageSize('20')).toBe(20);
  });

  it('keeps set filters and drops blank ones', () => {
    expect(
      buildListParams(2, 10, { keyword: ' gpt ', type: 2, username: '', token_name: undefined, channel: null, flag: false, zero: 0 }),
    ).toEqual({ p: '1', page_size: '10', keyword: 'gpt', type: '2', flag: 'false', zero: '0' });
  });
});

describe('toQueryString', () => {
  it('encodes values and skips undefined', () => {
    expect(toQueryString({ a: 'x y', b: undefined, c: 1 })).toBe('?a=x+y&c=1');
    expect(toQueryString({})).toBe('');
  });
});


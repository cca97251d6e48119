import { describe, expect, it } from 'vitest';
import { byDay, byModel, stackedByDay, type DashboardRow } from './dashboard';
import { buildSnippets, exampleModel } from './snippets';
import { firstInvalidCidr, isValidCidr } from './validate';

const rows: DashboardRow[] = [
  { Day: '2024-05-02', ModelName: 'gpt-4o', RequestCount: 2, Quota: 300, PromptTokens: 10, CompletionTokens: 5 },
  { Day: '2024-05-01', ModelName: 'gpt-4o', RequestCount: 1, Quota: 100, PromptTokens: 1, CompletionTokens: 1 },
  { Day: '2024-05-01', ModelName: 'claude-3-haiku', RequestCount: 4, Quota: 50, PromptTokens: 20, CompletionTokens: 0 },
];

describe('dashboard aggregation', () => {
  it('sums per day in date order', () => {
    expect(byDay(rows)).toEqual([
      { day: '2024-05-01', quota: 150, requests: 5, tokens: 22 },
      { day: '2024-05-02', quota: 300, requests: 2, tokens: 15 },
    ]);
  });

  it('sums per model, biggest first', () => {
    expect(byModel(rows).map((m) => [m.model, m.quota, m.requests])).toEqual([
      ['gpt-4o', 400, 3],
      ['claude-3-haiku', 50, 4],
    ]);
  });

  it('stacks quota per model per day', () => {
    const s = stackedByDay(rows);
    expect(s.models).toEqual(['gpt-4o', 'claude-3-haiku']);
    expect(s.data).toEqual([
      { day: '2024-05-01', 'gpt-4o': 100, 'claude-3-haiku': 50 },
      { day: '2024-05-02', 'gpt-4o': 300 },
    ]);
  });

  it('copes with no data', () => {
    expect(byDay([])).toEqual([]);
    expect(stackedByDay([])).toEqual({ data: [], models: [] });
  });
});

describe('CIDR validation', () => {
  it('accepts addresses and blocks', () => {
    for (const ok of ['10.0.0.0/8', '192.168.1.1', '0.0.0.0/0', '::1', '2001:db8::/32', 'fe80::1/128', '::ffff:10.0.0.1']) {
      expect(isValidCidr(ok), ok).toBe(true);
    }
  });

  it('rejects junk', () => {
    for (const bad of ['256.0.0.1', '10.0.0.0/33', '10.0.0', 'abc', '1.2.3.4/8/1', '2001:db8::/129', '1::2::3', '01.2.3.4']) {
      expect(isValidCidr(bad), bad).toBe(false);
    }
  });

  it('finds the first bad entry of a list', () => {
    expect(firstInvalidCidr('')).toBe('');
    expect(firstInvalidCidr('10.0.0.0/8, 192.168.0.0/16')).toBe('');
    expect(firstInvalidCidr('10.0.0.0/8, nope, 1.1.1.1')).toBe('nope');
  });
});

describe('token snippets', () => {
  it('builds base URL, key and a curl example', () => {
    const s = buildSnippets('https://api.example.com/', 'abc123', 'gpt-4o-mini');
    expect(s.baseUrl).toBe('https://api.example.com/v1');
    expect(s.key).toBe('sk-abc123');
    expect(s.curl).toContain('curl https://api.example.com/v1/chat/completions');
    expect(s.curl).toContain('Authorization: Bearer sk-abc123');
    expect(s.curl).toContain('"model":"gpt-4o-mini"');
    expect(s.python).toContain('base_url="https://api.example.com/v1"');
    expect(s.env).toContain('OPENAI_API_KEY="sk-abc123"');
  });

  it('picks an example model', () => {
    expect(exampleModel('claude-3-haiku, gpt-4', ['x'])).toBe('claude-3-haiku');
    expect(exampleModel('', ['gemini-1.5-pro'])).toBe('gemini-1.5-pro');
    expect(exampleModel(null, [])).toBe('gpt-4o-mini');
  });
});

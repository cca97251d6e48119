import { describe, expect, it } from 'vitest';
import { formatJson, isJsonOption, validateModelMapping, validateNumberMap, validateOption, validatePayMethods } from './json';

describe('JSON option validation', () => {
  it('accepts ratio maps', () => {
    expect(validateOption('ModelRatio', '{"gpt-4": 15, "gpt-4o-mini": 0.075}').ok).toBe(true);
    expect(validateOption('GroupRatio', '{}').ok).toBe(true);
  });

  it('rejects broken JSON with the parser message', () => {
    const r = validateOption('ModelRatio', '{"gpt-4": 15,}');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toBe('json.invalid');
      expect(r.params?.detail).toBeTruthy();
    }
  });

  it('rejects wrong shapes', () => {
    expect(validateNumberMap('[1,2]')).toMatchObject({ ok: false, error: 'json.notObject' });
    expect(validateNumberMap('"x"')).toMatchObject({ ok: false, error: 'json.notObject' });
    expect(validateNumberMap('{"a": "1"}')).toMatchObject({ ok: false, error: 'json.valueNotNumber', params: { key: 'a' } });
    expect(validateNumberMap('{"a": -1}')).toMatchObject({ ok: false, error: 'json.valueNegative' });
    expect(validateNumberMap('{" ": 1}')).toMatchObject({ ok: false, error: 'json.emptyKey' });
  });

  it('requires a value for JSON options', () => {
    expect(validateOption('CompletionRatio', '  ')).toMatchObject({ ok: false, error: 'json.empty' });
  });

  it('lets plain options through untouched', () => {
    expect(isJsonOption('SystemName')).toBe(false);
    expect(validateOption('SystemName', '{not json').ok).toBe(true);
  });

  it('checks payment methods', () => {
    expect(validatePayMethods('[{"name":"Alipay","type":"alipay","color":"blue"}]').ok).toBe(true);
    expect(validatePayMethods('{"name":"x"}')).toMatchObject({ ok: false, error: 'json.notArray' });
    expect(validatePayMethods('[{"name":"Alipay"}]')).toMatchObject({ ok: false, error: 'json.itemInvalid', params: { index: '1' } });
    expect(validateOption('PayMethods', '[]').ok).toBe(true);
  });
});

describe('model mapping validation', () => {
  it('allows blank', () => {
    expect(validateModelMapping('').ok).toBe(true);
    expect(validateModelMapping(undefined).ok).toBe(true);
    expect(validateModelMapping('   ').ok).toBe(true);
  });

  it('accepts string to string maps', () => {
    expect(validateModelMapping('{"gpt-3.5-turbo": "gpt-4o-mini"}').ok).toBe(true);
  });

  it('rejects non-string or empty targets and non-objects', () => {
    expect(validateModelMapping('{"a": 1}')).toMatchObject({ ok: false, error: 'json.valueNotString', params: { key: 'a' } });
    expect(validateModelMapping('{"a": ""}')).toMatchObject({ ok: false, error: 'json.valueNotString' });
    expect(validateModelMapping('["a"]')).toMatchObject({ ok: false, error: 'json.notObject' });
    expect(validateModelMapping('{"a": "b"')).toMatchObject({ ok: false, error: 'json.invalid' });
    expect(validateModelMapping('{"": "b"}')).toMatchObject({ ok: false, error: 'json.emptyKey' });
  });

  it('pretty-prints valid JSON only', () => {
    expect(formatJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(formatJson('{oops')).toBe('{oops');
  });
});

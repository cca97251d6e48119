import { describe, expect, it } from 'vitest';
import {
  buildConfig,
  coerceFieldValue,
  configFormValues,
  describeConfigFields,
  mergeModels,
  splitList,
  typeName,
  type ChannelType,
  type ConfigField,
} from './channelFields';

const azure: ConfigField[] = [
  { key: 'api_version', label: 'API version', label_zh: 'API 版本', type: 'string', default: '2024-02-01', required: true, help: 'e.g. 2024-02-01' },
  { key: 'timeout', label: 'Timeout', type: 'number', default: 30 },
  { key: 'vision', label: 'Vision', label_zh: '视觉', type: 'bool', default: false },
];

describe('describeConfigFields', () => {
  it('builds one form item per field under config.<key>', () => {
    const items = describeConfigFields(azure, 'en');
    expect(items.map((i) => i.name)).toEqual([
      ['config', 'api_version'],
      ['config', 'timeout'],
      ['config', 'vision'],
    ]);
    expect(items.map((i) => i.kind)).toEqual(['string', 'number', 'bool']);
    expect(items[0]).toMatchObject({ label: 'API version', required: true, help: 'e.g. 2024-02-01', initialValue: '2024-02-01' });
    expect(items[1]).toMatchObject({ required: false, initialValue: 30 });
    expect(items[2].initialValue).toBe(false);
  });

  it('uses the Chinese label in Chinese, falling back to the English one', () => {
    const items = describeConfigFields(azure, 'zh-CN');
    expect(items.map((i) => i.label)).toEqual(['API 版本', 'Timeout', '视觉']);
  });

  it('treats unknown field types as strings and skips fields without key', () => {
    const items = describeConfigFields(
      [
        { key: 'region', label: '', type: 'select' as never },
        { key: '', label: 'x', type: 'string' },
      ],
      'en',
    );
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ kind: 'string', label: 'region' });
    expect(describeConfigFields(undefined, 'en')).toEqual([]);
  });
});

describe('config round trip', () => {
  it('fills stored values over defaults with the right types', () => {
    expect(configFormValues('{"api_version":"2023-05-15","timeout":"10","vision":"true"}', azure)).toEqual({
      api_version: '2023-05-15',
      timeout: 10,
      vision: true,
    });
    expect(configFormValues('', azure)).toEqual({ api_version: '2024-02-01', timeout: 30, vision: false });
    expect(configFormValues('not json', azure)).toEqual({ api_version: '2024-02-01', timeout: 30, vision: false });
  });

  it('builds the config string, keeping unknown keys and dropping blanks', () => {
    const out = buildConfig({ api_version: '2024-06-01', timeout: '', vision: true }, azure, '{"region":"eu","timeout":5}');
    expect(JSON.parse(out)).toEqual({ region: 'eu', api_version: '2024-06-01', vision: true });
    expect(buildConfig({}, [], '')).toBe('');
  });

  it('coerces values', () => {
    expect(coerceFieldValue('number', 'abc')).toBeUndefined();
    expect(coerceFieldValue('bool', '1')).toBe(true);
    expect(coerceFieldValue('string', 5)).toBe('5');
  });
});

describe('lists', () => {
  it('splits, trims and de-duplicates comma lists', () => {
    expect(splitList(' a, b,,a ,c ')).toEqual(['a', 'b', 'c']);
    expect(splitList(null)).toEqual([]);
    expect(mergeModels(['gpt-4', 'gpt-4o'], undefined, ['gpt-4o', 'o1'])).toEqual(['gpt-4', 'gpt-4o', 'o1']);
  });

  it('names types, also unknown ones', () => {
    const types: ChannelType[] = [{ id: 1, name: 'OpenAI' }];
    expect(typeName(types, 1)).toBe('OpenAI');
    expect(typeName(types, 99)).toBe('#99');
  });
});

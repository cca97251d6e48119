// Server-side renders of small components: no browser or DOM library needed.
import { Form } from 'antd';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import '../i18n';
import i18n from '../i18n';
import { visibleNavKeys } from './AppLayout';
import ConfigFields from './ConfigFields';
import Pager from './Pager';

describe('ConfigFields', () => {
  it('renders an input per declared field with its test id and label', async () => {
    await i18n.changeLanguage('en');
    const html = renderToString(
      <Form>
        <ConfigFields
          fields={[
            { key: 'api_version', label: 'API version', label_zh: 'API 版本', type: 'string', required: true },
            { key: 'timeout', label: 'Timeout', type: 'number' },
            { key: 'vision', label: 'Vision', type: 'bool' },
          ]}
        />
      </Form>,
    );
    expect(html).toContain('data-testid="channel-config-api_version"');
    expect(html).toContain('data-testid="channel-config-timeout"');
    expect(html).toContain('data-testid="channel-config-vision"');
    expect(html).toContain('API version');
    expect(html).toContain('ant-switch');
    expect(html).toContain('ant-input-number');
  });

  it('labels in Chinese when the language is zh-CN', async () => {
    await i18n.changeLanguage('zh-CN');
    const html = renderToString(
      <Form>
        <ConfigFields fields={[{ key: 'api_version', label: 'API version', label_zh: 'API 版本', type: 'string' }]} />
      </Form>,
    );
    expect(html).toContain('API 版本');
    await i18n.changeLanguage('en');
  });

  it('renders nothing without fields', () => {
    expect(renderToString(<ConfigFields fields={[]} />)).toBe('');
  });
});

describe('Pager', () => {
  it('shows the total and the page-size selector', async () => {
    await i18n.changeLanguage('en');
    const html = renderToString(<Pager page={2} pageSize={20} total={45} onChange={() => undefined} />);
    expect(html).toContain('data-testid="page-size-select"');
    expect(html).toContain('data-testid="list-total"');
    expect(html).toContain('Total 45');
    expect(html).toContain('20 / page');
  });
});

describe('menu by role', () => {
  it('hides admin and root pages from others', () => {
    expect(visibleNavKeys(0)).toEqual(['home', 'about']);
    const user = visibleNavKeys(1);
    expect(user).toContain('token');
    expect(user).not.toContain('channel');
    expect(user).not.toContain('setting');
    const admin = visibleNavKeys(10);
    expect(admin).toEqual(expect.arrayContaining(['channel', 'user', 'redemption']));
    expect(admin).not.toContain('setting');
    expect(visibleNavKeys(100)).toContain('setting');
  });
});

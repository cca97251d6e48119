// The settings card renders a plugin's described options generically.
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import i18n from '../i18n';
import type { OptionGroup } from '../lib/options';
import OptionGroupCard from './OptionGroupCard';

const group: OptionGroup = {
  id: 'alpha',
  fields: [
    { key: 'AlphaFlag', kind: 'bool', label: { en: 'Let clients choose', 'zh-CN': '允许客户端选择' }, help: { en: 'Forwarded upstream', 'zh-CN': '转发给上游' } },
    { key: 'AlphaWait', kind: 'number', label: { en: 'Wait (seconds)', 'zh-CN': '等待（秒）' }, min: 0 },
    { key: 'AlphaKey', kind: 'secret', label: { en: 'Merchant key', 'zh-CN': '商户密钥' } },
  ],
};
const stored = { AlphaFlag: 'true', AlphaWait: '15', AlphaKey: 'stored-secret-value' };

describe('OptionGroupCard with a plugin group', () => {
  it('labels fields in the current language, with help', async () => {
    await i18n.changeLanguage('en');
    let html = renderToString(<OptionGroupCard group={group} stored={stored} onStored={() => undefined} />);
    expect(html).toContain('data-testid="settings-group-alpha"');
    expect(html).toContain('Let clients choose');
    expect(html).toContain('Forwarded upstream');
    expect(html).toContain('Wait (seconds)');
    expect(html).toContain('data-testid="option-AlphaFlag"');
    expect(html).toContain('data-testid="settings-save-alpha"');
    await i18n.changeLanguage('zh-CN');
    html = renderToString(<OptionGroupCard group={group} stored={stored} onStored={() => undefined} />);
    expect(html).toContain('允许客户端选择');
    expect(html).toContain('商户密钥');
    await i18n.changeLanguage('en');
  });

  it('never shows a stored secret', async () => {
    const html = renderToString(<OptionGroupCard group={group} stored={stored} onStored={() => undefined} />);
    expect(html).toContain('data-testid="option-AlphaKey"');
    expect(html).not.toContain('stored-secret-value');
    expect(html).toContain('value="15"');
  });
});

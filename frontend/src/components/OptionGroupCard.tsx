// One group of options on the settings page: switches save at once, the other
// fields save together with the group's Save button (only changed keys are sent).
import { Alert, App, Button, Card, Form, Input, InputNumber, Modal, Select, Space, Switch, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage } from '../api';
import { changedOptions, checkJsonOption, localized, toFormValue, toOptionValue, type OptionField, type OptionGroup } from '../lib/options';
import Content from './Content';
import JsonEditor, { jsonErrorText, jsonRule } from './JsonEditor';

export interface OptionGroupCardProps {
  group: OptionGroup;
  stored: Record<string, string>;
  onStored: (key: string, value: string) => void;
}

export default function OptionGroupCard({ group, stored, onStored }: OptionGroupCardProps) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  // A plugin's field has its own label and help; the core's are translations.
  const labelOf = (f: OptionField) => localized(f.label, i18n.language) || t(`option.${f.key}`);
  const helpOf = (f: OptionField) => localized(f.help, i18n.language) || undefined;
  const [form] = Form.useForm<Record<string, unknown>>();
  const [saving, setSaving] = useState(false);
  const [switching, setSwitching] = useState('');
  const [error, setError] = useState('');
  const [preview, setPreview] = useState<string | null>(null);
  const switches = group.fields.filter((f) => f.kind === 'bool');
  const inputs = group.fields.filter((f) => f.kind !== 'bool');

  // Filled once: later changes of `stored` (saves elsewhere) must not wipe unsaved edits here.
  const [initialValues] = useState(() => {
    const values: Record<string, unknown> = {};
    for (const f of inputs) values[f.key] = toFormValue(f.kind, stored[f.key]);
    return values;
  });

  const put = async (key: string, value: string) => {
    await api.put('/api/option/', { key, value });
    onStored(key, value);
  };

  const toggle = async (key: string, checked: boolean) => {
    setSwitching(key);
    try {
      await put(key, toOptionValue('bool', checked));
      message.success(t('common.saved'));
    } catch (e) {
      message.error(errorMessage(e));
    } finally {
      setSwitching('');
    }
  };

  const save = async () => {
    setError('');
    try {
      await form.validateFields();
    } catch {
      return;
    }
    const { changes, errors } = changedOptions(inputs, stored, form.getFieldsValue());
    if (errors.length) {
      setError(`${labelOf(inputs.find((f) => f.key === errors[0].key)!)}: ${jsonErrorText(errors[0].check, t)}`);
      return;
    }
    if (!changes.length) {
      message.info(t('settings.nothingChanged'));
      return;
    }
    setSaving(true);
    try {
      for (const c of changes) {
        await put(c.key, c.value);
        if (inputs.find((f) => f.key === c.key)?.kind === 'secret') form.setFieldValue(c.key, '');
      }
      message.success(t('settings.savedCount', { count: changes.length }));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Card size="small" title={t(`settings.group.${group.id}`, { defaultValue: group.id })} style={{ marginBottom: 16 }} data-testid={`settings-group-${group.id}`}>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 12 }} />}
      {switches.length > 0 && (
        <Space orientation="vertical" style={{ width: '100%', marginBottom: inputs.length ? 16 : 0 }}>
          {switches.map((f) => (
            <Space key={f.key} align="center">
              <Switch
                checked={stored[f.key] === 'true'}
                loading={switching === f.key}
                onChange={(c) => toggle(f.key, c)}
                data-testid={`option-${f.key}`}
              />
              <span>{labelOf(f)}</span>
              {helpOf(f) && <Typography.Text type="secondary">{helpOf(f)}</Typography.Text>}
            </Space>
          ))}
        </Space>
      )}
      {inputs.length > 0 && (
        <Form form={form} layout="vertical" initialValues={initialValues}>
          {inputs.map((f) => {
            const label = labelOf(f);
            const help = helpOf(f);
            if (f.kind === 'json') {
              const validate = (text: string) => checkJsonOption(f.key, text);
              return (
                <Form.Item key={f.key} name={f.key} label={label} extra={help} rules={[jsonRule(validate, t, false)]}>
                  <JsonEditor validate={validate} rows={10} allowEmpty={false} testId={`option-${f.key}`} />
                </Form.Item>
              );
            }
            if (f.kind === 'markdown' || f.kind === 'text') {
              return (
                <Form.Item
                  key={f.key}
                  name={f.key}
                  label={
                    <Space>
                      {label}
                      {f.kind === 'markdown' && (
                        <Button size="small" type="link" onClick={() => setPreview(String(form.getFieldValue(f.key) ?? ''))}>
                          {t('settings.preview')}
                        </Button>
                      )}
                    </Space>
                  }
                  extra={help ?? (f.kind === 'markdown' ? t('settings.markdownHelp') : t('settings.htmlHelp'))}
                >
                  <Input.TextArea rows={f.kind === 'markdown' ? 6 : 3} data-testid={`option-${f.key}`} />
                </Form.Item>
              );
            }
            if (f.kind === 'number') {
              return (
                <Form.Item key={f.key} name={f.key} label={label} extra={help}>
                  <InputNumber min={f.min} max={f.max} style={{ width: '100%', maxWidth: 320 }} data-testid={`option-${f.key}`} />
                </Form.Item>
              );
            }
            if (f.kind === 'secret') {
              return (
                <Form.Item key={f.key} name={f.key} label={label} extra={help ? `${help}. ${t('settings.secretHelp')}` : t('settings.secretHelp')}>
                  <Input.Password autoComplete="new-password" placeholder={t('settings.secretPlaceholder')} data-testid={`option-${f.key}`} />
                </Form.Item>
              );
            }
            if (f.kind === 'select') {
              return (
                <Form.Item key={f.key} name={f.key} label={label} extra={help}>
                  <Select
                    style={{ width: '100%', maxWidth: 320 }}
                    options={(f.choices ?? []).map((c) => ({ value: c, label: c }))}
                    data-testid={`option-${f.key}`}
                  />
                </Form.Item>
              );
            }
            return (
              <Form.Item key={f.key} name={f.key} label={label} extra={help}>
                <Input data-testid={`option-${f.key}`} />
              </Form.Item>
            );
          })}
          <Button type="primary" loading={saving} onClick={save} data-testid={`settings-save-${group.id}`}>
            {t('common.save')}
          </Button>
        </Form>
      )}
      <Modal open={preview !== null} title={t('settings.preview')} footer={null} onCancel={() => setPreview(null)} width={800}>
        {preview ? <Content content={preview} /> : <Typography.Text type="secondary">{t('common.empty')}</Typography.Text>}
      </Modal>
    </Card>
  );
}

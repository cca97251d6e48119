// One group of options on the settings page: switches save at once, the other
// fields save together with the group's Save button (only changed keys are sent).
import { Alert, App, Button, Card, Form, Input, InputNumber, Modal, Space, Switch, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage } from '../api';
import { validateOption } from '../lib/json';
import { changedOptions, toFormValue, toOptionValue, type OptionGroup } from '../lib/options';
import Content from './Content';
import JsonEditor, { jsonErrorText, jsonRule } from './JsonEditor';

export interface OptionGroupCardProps {
  group: OptionGroup;
  stored: Record<string, string>;
  onStored: (key: string, value: string) => void;
}

export default function OptionGroupCard({ group, stored, onStored }: OptionGroupCardProps) {
  const { t } = useTranslation();
  const { message } = App.useApp();
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
      setError(`${t(`option.${errors[0].key}`)}: ${jsonErrorText(errors[0].check, t)}`);
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
    <Card size="small" title={t(`settings.group.${group.id}`)} style={{ marginBottom: 16 }} data-testid={`settings-group-${group.id}`}>
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
              <span>{t(`option.${f.key}`)}</span>
            </Space>
          ))}
        </Space>
      )}
      {inputs.length > 0 && (
        <Form form={form} layout="vertical" initialValues={initialValues}>
          {inputs.map((f) => {
            const label = t(`option.${f.key}`);
            if (f.kind === 'json') {
              const validate = (text: string) => validateOption(f.key, text);
              return (
                <Form.Item key={f.key} name={f.key} label={label} rules={[jsonRule(validate, t, false)]}>
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
                  extra={f.kind === 'markdown' ? t('settings.markdownHelp') : t('settings.htmlHelp')}
                >
                  <Input.TextArea rows={f.kind === 'markdown' ? 6 : 3} data-testid={`option-${f.key}`} />
                </Form.Item>
              );
            }
            if (f.kind === 'number') {
              return (
                <Form.Item key={f.key} name={f.key} label={label}>
                  <InputNumber style={{ width: '100%', maxWidth: 320 }} data-testid={`option-${f.key}`} />
                </Form.Item>
              );
            }
            if (f.kind === 'secret') {
              return (
                <Form.Item key={f.key} name={f.key} label={label} extra={t('settings.secretHelp')}>
                  <Input.Password autoComplete="new-password" placeholder={t('settings.secretPlaceholder')} data-testid={`option-${f.key}`} />
                </Form.Item>
              );
            }
            return (
              <Form.Item key={f.key} name={f.key} label={label}>
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

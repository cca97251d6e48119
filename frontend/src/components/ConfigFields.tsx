// Form items for a channel type's own config fields (declared by the backend plugin).
import { Form, Input, InputNumber, Switch } from 'antd';
import { useTranslation } from 'react-i18next';
import { describeConfigFields, type ConfigField } from '../lib/channelFields';

export default function ConfigFields({ fields }: { fields: ConfigField[] | undefined }) {
  const { t, i18n } = useTranslation();
  const items = describeConfigFields(fields, i18n.language);
  if (!items.length) return null;
  return (
    <>
      {items.map((f) => (
        <Form.Item
          key={f.key}
          name={f.name}
          label={f.label}
          extra={f.help}
          valuePropName={f.kind === 'bool' ? 'checked' : 'value'}
          rules={f.required && f.kind !== 'bool' ? [{ required: true, message: t('form.required', { field: f.label }) }] : []}
        >
          {f.kind === 'bool' ? (
            <Switch data-testid={`channel-config-${f.key}`} />
          ) : f.kind === 'number' ? (
            <InputNumber data-testid={`channel-config-${f.key}`} style={{ width: '100%' }} />
          ) : (
            <Input data-testid={`channel-config-${f.key}`} />
          )}
        </Form.Item>
      ))}
    </>
  );
}

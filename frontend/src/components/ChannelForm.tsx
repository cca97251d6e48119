// Create / edit a channel. The type decides the default base URL, the default models
// and extra config fields (all declared by the backend plugin of that type).
import { Alert, App, Button, Divider, Drawer, Form, Input, InputNumber, Select, Space, Typography } from 'antd';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, ROLE_ROOT, type Channel } from '../api';
import { buildConfig, configFormValues, findType, mergeModels, splitList } from '../lib/channelFields';
import { validateModelMapping } from '../lib/json';
import ConfigFields from './ConfigFields';
import JsonEditor, { jsonRule } from './JsonEditor';
import { allKnownModels, type ChannelMeta } from './useChannelMeta';
import { useOnOpen } from './useOnOpen';
import { useSession } from '../session';

interface Values {
  type: number;
  name: string;
  key: string;
  base_url: string;
  models: string[];
  group: string[];
  model_mapping: string;
  priority: number;
  weight: number;
  system_prompt: string;
  other: string;
  config: Record<string, unknown>;
}

export interface ChannelFormProps {
  open: boolean;
  channelId: number | null;
  meta: ChannelMeta;
  onClose: () => void;
  onSaved: () => void;
}

export default function ChannelForm({ open, channelId, meta, onClose, onSaved }: ChannelFormProps) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<Values>();
  const [original, setOriginal] = useState<Channel | null>(null);
  const [loading, setLoading] = useState(false);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState('');
  const typeId = Form.useWatch('type', form);
  const keyText = Form.useWatch('key', form);
  const type = findType(meta.types, typeId);
  const editing = channelId !== null;
  const isRoot = (useSession().user?.role ?? 0) >= ROLE_ROOT;

  // Keys are write-only; root may read one through a logged action.
  const revealKey = async () => {
    try {
      const { key } = await api.post<{ key: string }>(`/api/channel/${channelId}/key`);
      form.setFieldValue('key', key);
    } catch (e) {
      message.error(errorMessage(e));
    }
  };

  const defaults = (id: number): Partial<Values> => {
    const tp = findType(meta.types, id);
    return {
      type: id,
      models: tp?.default_models ?? [],
      config: configFormValues('', tp?.config_fields),
    };
  };

  useOnOpen(open ? String(channelId) : null, () => {
    setError('');
    setOriginal(null);
    setLoading(channelId !== null);
  });

  useEffect(() => {
    if (!open) return;
    form.resetFields();
    if (channelId === null) {
      const first = meta.types[0]?.id ?? 1;
      form.setFieldsValue({ ...defaults(first), name: '', key: '', base_url: '', group: ['default'], model_mapping: '', priority: 0, weight: 0 });
      return;
    }
    api
      .get<Channel>(`/api/channel/${channelId}`)
      .then((c) => {
        setOriginal(c);
        const tp = findType(meta.types, c.type);
        form.setFieldsValue({
          type: c.type,
          name: c.name,
          key: c.key ?? '',
          base_url: c.base_url ?? '',
          models: splitList(c.models),
          group: splitList(c.group),
          model_mapping: c.model_mapping ?? '',
          priority: c.priority ?? 0,
          weight: c.weight ?? 0,
          system_prompt: c.system_prompt ?? '',
          other: c.other ?? '',
          config: configFormValues(c.config, tp?.config_fields),
        });
      })
      .catch((e) => setError(errorMessage(e)))
      .finally(() => setLoading(false));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open, channelId, meta.types]);

  const onTypeChange = (id: number) => {
    const tp = findType(meta.types, id);
    // A new channel takes the type's defaults; an existing one keeps its models.
    if (!editing || !(form.getFieldValue('models') ?? []).length) form.setFieldValue('models', tp?.default_models ?? []);
    form.setFieldValue('config', configFormValues(original?.type === id ? original.config : '', tp?.config_fields));
  };

  const keyCount = useMemo(() => (keyText ?? '').split('\n').filter((k: string) => k.trim()).length, [keyText]);

  const onFinish = async (v: Values) => {
    setSaving(true);
    setError('');
    try {
      const body: Record<string, unknown> = {
        type: v.type,
        name: v.name.trim(),
        base_url: (v.base_url ?? '').trim(),
        models: mergeModels(v.models).join(','),
        group: mergeModels(v.group).join(',') || 'default',
        model_mapping: (v.model_mapping ?? '').trim(),
        priority: Number(v.priority) || 0,
        weight: Number(v.weight) || 0,
        config: buildConfig(v.config, type?.config_fields, original?.config),
        other: v.other ?? '',
        system_prompt: v.system_prompt ?? '',
      };
      const key = (v.key ?? '').trim();
      if (key || !editing) body.key = key;
      if (editing) await api.put('/api/channel/', { id: channelId, ...body });
      else await api.post('/api/channel/', body);
      message.success(t('common.saved'));
      onSaved();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };

  const models: string[] = Form.useWatch('models', form) ?? [];
  const modelOptions = mergeModels(type?.default_models, meta.modelsByType[String(typeId)], models).map((m) => ({ value: m, label: m }));
  const groupOptions = mergeModels(['default'], meta.groups).map((g) => ({ value: g, label: g }));

  return (
    <Drawer
      open={open}
      title={editing ? t('channel.editTitle', { id: channelId }) : t('channel.createTitle')}
      onClose={onClose}
      size={640}
      forceRender
      loading={loading}
      extra={
        <Space>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button type="primary" loading={saving} onClick={() => form.submit()} data-testid="channel-form-submit">
            {t('common.submit')}
          </Button>
        </Space>
      }
    >
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 12 }} data-testid="channel-form-error" />}
      {meta.error && <Alert type="warning" showIcon title={meta.error} style={{ marginBottom: 12 }} />}
      <Form form={form} layout="vertical" onFinish={onFinish} data-testid="channel-form">
        <Form.Item name="type" label={t('channel.type')} rules={[{ required: true, message: t('form.required', { field: t('channel.type') }) }]}>
          <Select
            showSearch={{ optionFilterProp: 'label' }}
            options={meta.types.map((tp) => ({ value: tp.id, label: `${tp.name} (${tp.id})` }))}
            onChange={onTypeChange}
            data-testid="channel-form-type"
          />
        </Form.Item>
        <Form.Item
          name="name"
          label={t('common.name')}
          rules={[{ required: true, whitespace: true, message: t('form.required', { field: t('common.name') }) }]}
        >
          <Input data-testid="channel-form-name" />
        </Form.Item>
        <Form.Item name="base_url" label={t('channel.baseUrl')} extra={t('channel.baseUrlHelp')}>
          <Input placeholder={type?.default_base_url || t('channel.baseUrlDefault')} data-testid="channel-form-base-url" />
        </Form.Item>
        <Form.Item
          name="key"
          label={t('channel.key')}
          extra={
            editing ? (
              <Space size={8} wrap>
                {t('channel.keyEditHelp')}
                {isRoot && (
                  <Button size="small" onClick={revealKey} data-testid="channel-form-reveal-key">
                    {t('channel.revealKey')}
                  </Button>
                )}
              </Space>
            ) : (
              t('channel.keyHelp', { count: keyCount })
            )
          }
          rules={editing ? [] : [{ required: true, whitespace: true, message: t('form.required', { field: t('channel.key') }) }]}
        >
          <Input.TextArea rows={editing ? 2 : 3} spellCheck={false} data-testid="channel-form-key" />
        </Form.Item>
        <ConfigFields fields={type?.config_fields} />
        <Form.Item
          label={t('channel.models')}
          required
          extra={
            <Space wrap size={4} style={{ marginTop: 4 }}>
              <Button size="small" onClick={() => form.setFieldValue('models', mergeModels(models, type?.default_models))} data-testid="channel-form-fill-defaults">
                {t('channel.fillDefaults')}
              </Button>
              <Button size="small" onClick={() => form.setFieldValue('models', allKnownModels(meta))} data-testid="channel-form-fill-all">
                {t('channel.fillAll')}
              </Button>
              <Button size="small" onClick={() => form.setFieldValue('models', [])} data-testid="channel-form-clear-models">
                {t('channel.clearModels')}
              </Button>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {t('channel.modelCount', { count: models.length })}
              </Typography.Text>
            </Space>
          }
        >
          <Form.Item name="models" noStyle rules={[{ required: true, type: 'array', min: 1, message: t('channel.modelsRequired') }]}>
            <Select mode="tags" allowClear tokenSeparators={[',']} options={modelOptions} maxTagCount={30} data-testid="channel-form-models" />
          </Form.Item>
        </Form.Item>
        <Form.Item name="group" label={t('channel.group')} rules={[{ required: true, type: 'array', min: 1, message: t('form.required', { field: t('channel.group') }) }]}>
          <Select mode="tags" options={groupOptions} data-testid="channel-form-group" />
        </Form.Item>
        <Form.Item name="model_mapping" label={t('channel.modelMapping')} extra={t('channel.modelMappingHelp')} rules={[jsonRule(validateModelMapping, t)]}>
          <JsonEditor validate={validateModelMapping} rows={4} placeholder={'{\n  "gpt-3.5-turbo": "gpt-4o-mini"\n}'} testId="channel-form-model-mapping" />
        </Form.Item>
        <Space size="large" wrap align="start">
          <Form.Item name="priority" label={t('channel.priority')} extra={t('channel.priorityHelp')}>
            <InputNumber precision={0} data-testid="channel-form-priority" />
          </Form.Item>
          <Form.Item name="weight" label={t('channel.weight')}>
            <InputNumber min={0} precision={0} data-testid="channel-form-weight" />
          </Form.Item>
        </Space>
        <Divider plain>{t('channel.advanced')}</Divider>
        <Form.Item name="system_prompt" label={t('channel.systemPrompt')} extra={t('channel.systemPromptHelp')}>
          <Input.TextArea rows={3} data-testid="channel-form-system-prompt" />
        </Form.Item>
        <Form.Item name="other" label={t('channel.other')} extra={t('channel.otherHelp')}>
          <Input data-testid="channel-form-other" />
        </Form.Item>
      </Form>
    </Drawer>
  );
}

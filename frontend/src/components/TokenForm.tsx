// Create / edit a token: name, quota or unlimited, expiry, allowed models, subnets.
import { Alert, App, Button, Checkbox, DatePicker, Form, Input, InputNumber, Modal, Select, Space, Switch, Typography } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type Token } from '../api';
import { splitList } from '../lib/channelFields';
import { firstInvalidCidr } from '../lib/validate';
import { useSession } from '../session';
import { useAvailableModels } from './useModels';
import { useOnOpen } from './useOnOpen';

interface Values {
  name: string;
  remain_quota: number;
  unlimited_quota: boolean;
  never_expire: boolean;
  expired_at: Dayjs | null;
  models: string[];
  subnet: string;
}

export function tokenPayload(v: Values) {
  return {
    name: v.name.trim(),
    remain_quota: Math.max(0, Math.floor(Number(v.remain_quota) || 0)),
    unlimited_quota: Boolean(v.unlimited_quota),
    expired_time: v.never_expire || !v.expired_at ? -1 : v.expired_at.unix(),
    models: (v.models ?? []).join(','),
    subnet: splitList(v.subnet).join(','),
  };
}

function toValues(tok: Token | null): Values {
  return {
    name: tok?.name ?? '',
    remain_quota: tok?.remain_quota ?? 500000,
    unlimited_quota: tok?.unlimited_quota ?? false,
    never_expire: !tok || tok.expired_time === -1 || !tok.expired_time,
    expired_at: tok && tok.expired_time > 0 ? dayjs.unix(tok.expired_time) : null,
    models: splitList(tok?.models),
    subnet: tok?.subnet ?? '',
  };
}

export interface TokenFormProps {
  open: boolean;
  token: Token | null;
  onClose: () => void;
  onSaved: (created: Token | null) => void;
}

export default function TokenForm({ open, token, onClose, onSaved }: TokenFormProps) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { quota, display } = useSession();
  const [form] = Form.useForm<Values>();
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState('');
  const models = useAvailableModels(open);
  const unlimited = Form.useWatch('unlimited_quota', form);
  const neverExpire = Form.useWatch('never_expire', form);
  const remain = Form.useWatch('remain_quota', form);

  useOnOpen(open ? String(token?.id ?? 'new') : null, () => setError(''));

  useEffect(() => {
    if (!open) return;
    form.resetFields();
    form.setFieldsValue(toValues(token));
    if (token) {
      api
        .get<Token>(`/api/token/${token.id}`)
        .then((fresh) => fresh && form.setFieldsValue(toValues(fresh)))
        .catch(() => undefined);
    }
  }, [open, token, form]);

  const setExpiry = (amount: number, unit: 'hour' | 'day' | 'month') => {
    form.setFieldsValue({ never_expire: false, expired_at: dayjs().add(amount, unit) });
  };

  const onFinish = async (v: Values) => {
    setSaving(true);
    setError('');
    try {
      const body = tokenPayload(v);
      if (token) {
        await api.put('/api/token/', { id: token.id, ...body });
        message.success(t('common.saved'));
        onSaved(null);
      } else {
        const created = await api.post<Token | null>('/api/token/', body);
        message.success(t('token.created'));
        onSaved(created && typeof created === 'object' ? created : null);
      }
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Modal
      open={open}
      title={token ? t('token.editTitle') : t('token.createTitle')}
      onCancel={onClose}
      forceRender
      footer={[
        <Button key="cancel" onClick={onClose}>
          {t('common.cancel')}
        </Button>,
        <Button key="submit" type="primary" loading={saving} onClick={() => form.submit()} data-testid="token-form-submit">
          {t('common.submit')}
        </Button>,
      ]}
    >
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 12 }} data-testid="token-form-error" />}
      <Form form={form} layout="vertical" onFinish={onFinish} initialValues={toValues(token)} data-testid="token-form">
        <Form.Item
          name="name"
          label={t('common.name')}
          rules={[
            { required: true, whitespace: true, message: t('form.required', { field: t('common.name') }) },
            { max: 30, message: t('form.maxLength', { count: 30 }) },
          ]}
        >
          <Input data-testid="token-form-name" />
        </Form.Item>
        <Form.Item name="unlimited_quota" label={t('token.unlimited')} valuePropName="checked">
          <Switch data-testid="token-form-unlimited" />
        </Form.Item>
        {!unlimited && (
          <Form.Item
            name="remain_quota"
            label={t('token.remainQuota')}
            extra={display.displayInCurrency ? t('token.quotaEquals', { value: quota(remain ?? 0) }) : undefined}
            rules={[{ required: true, message: t('form.required', { field: t('token.remainQuota') }) }]}
          >
            <InputNumber min={0} step={500000} precision={0} style={{ width: '100%' }} data-testid="token-form-quota" />
          </Form.Item>
        )}
        <Form.Item label={t('token.expiredTime')} required>
          <Space wrap>
            <Form.Item name="never_expire" valuePropName="checked" noStyle>
              <Checkbox data-testid="token-form-never-expire">{t('common.never')}</Checkbox>
            </Form.Item>
            <Form.Item
              name="expired_at"
              noStyle
              rules={[
                ({ getFieldValue }) => ({
                  validator: async (_r, value: Dayjs | null) => {
                    if (getFieldValue('never_expire')) return;
                    if (!value) throw new Error(t('token.expiryRequired'));
                    if (value.isBefore(dayjs())) throw new Error(t('token.expiryPast'));
                  },
                }),
              ]}
            >
              <DatePicker showTime disabled={neverExpire} data-testid="token-form-expiry" />
            </Form.Item>
          </Space>
          <div style={{ marginTop: 8 }}>
            <Space wrap size={4}>
              <Button size="small" onClick={() => form.setFieldsValue({ never_expire: true, expired_at: null })}>
                {t('common.never')}
              </Button>
              <Button size="small" onClick={() => setExpiry(1, 'hour')}>
                {t('token.oneHour')}
              </Button>
              <Button size="small" onClick={() => setExpiry(1, 'day')}>
                {t('token.oneDay')}
              </Button>
              <Button size="small" onClick={() => setExpiry(1, 'month')}>
                {t('token.oneMonth')}
              </Button>
            </Space>
          </div>
        </Form.Item>
        <Form.Item name="models" label={t('token.models')} extra={t('token.modelsHelp')}>
          <Select
            mode="tags"
            allowClear
            tokenSeparators={[',']}
            options={models.map((m) => ({ value: m, label: m }))}
            placeholder={t('token.allModels')}
            data-testid="token-form-models"
          />
        </Form.Item>
        <Form.Item
          name="subnet"
          label={t('token.subnet')}
          extra={t('token.subnetHelp')}
          rules={[
            {
              validator: async (_r, value: string) => {
                const bad = firstInvalidCidr(value);
                if (bad) throw new Error(t('token.subnetInvalid', { value: bad }));
              },
            },
          ]}
        >
          <Input placeholder="192.168.0.0/24, 10.0.0.1" data-testid="token-form-subnet" />
        </Form.Item>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t('token.quotaNote')}
        </Typography.Text>
      </Form>
    </Modal>
  );
}

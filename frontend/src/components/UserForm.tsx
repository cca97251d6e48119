// Create a user (username, password, display name) or edit one (also group and quota).
import { Alert, App, Form, Input, InputNumber, Modal, Select } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type User } from '../api';
import { mergeModels } from '../lib/channelFields';
import { useSession } from '../session';
import { useOnOpen } from './useOnOpen';

interface Values {
  username: string;
  display_name: string;
  password: string;
  group: string;
  quota: number;
}

export interface UserFormProps {
  open: boolean;
  user: User | null;
  groups: string[];
  onClose: () => void;
  onSaved: () => void;
}

export default function UserForm({ open, user, groups, onClose, onSaved }: UserFormProps) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { quota, display } = useSession();
  const [form] = Form.useForm<Values>();
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState('');
  const q = Form.useWatch('quota', form);
  const editing = user !== null;

  useOnOpen(open ? String(user?.id ?? 'new') : null, () => setError(''));

  useEffect(() => {
    if (!open) return;
    form.resetFields();
    if (user) {
      const fill = (u: User) =>
        form.setFieldsValue({ username: u.username, display_name: u.display_name ?? '', password: '', group: u.group || 'default', quota: u.quota });
      fill(user);
      api
        .get<User>(`/api/user/${user.id}`)
        .then((fresh) => fresh && fill(fresh))
        .catch(() => undefined);
    }
  }, [open, user, form]);

  const onFinish = async (v: Values) => {
    setSaving(true);
    setError('');
    try {
      if (user) {
        const body: Record<string, unknown> = {
          id: user.id,
          username: v.username.trim(),
          display_name: v.display_name ?? '',
          group: v.group,
          quota: Math.floor(Number(v.quota) || 0),
        };
        if (v.password) body.password = v.password;
        await api.put('/api/user/', body);
      } else {
        await api.post('/api/user/', { username: v.username.trim(), password: v.password, display_name: v.display_name || v.username.trim() });
      }
      message.success(t('common.saved'));
      onSaved();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Modal
      open={open}
      forceRender
      title={editing ? t('user.editTitle', { name: user?.username }) : t('user.createTitle')}
      onCancel={onClose}
      onOk={() => form.submit()}
      confirmLoading={saving}
      okButtonProps={{ 'data-testid': 'user-form-submit' }}
    >
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 12 }} data-testid="user-form-error" />}
      <Form form={form} layout="vertical" onFinish={onFinish} data-testid="user-form">
        <Form.Item
          name="username"
          label={t('login.username')}
          rules={[
            { required: true, whitespace: true, message: t('login.usernameRequired') },
            { max: 12, message: t('form.maxLength', { count: 12 }) },
          ]}
        >
          <Input autoComplete="off" data-testid="user-form-username" />
        </Form.Item>
        <Form.Item name="display_name" label={t('user.displayName')} rules={[{ max: 20, message: t('form.maxLength', { count: 20 }) }]}>
          <Input data-testid="user-form-display-name" />
        </Form.Item>
        <Form.Item
          name="password"
          label={editing ? t('user.newPassword') : t('login.password')}
          extra={editing ? t('user.passwordKeep') : undefined}
          rules={[
            ...(editing ? [] : [{ required: true, message: t('login.passwordRequired') }]),
            { min: 8, max: 20, message: t('form.passwordLength') },
          ]}
        >
          <Input.Password autoComplete="new-password" data-testid="user-form-password" />
        </Form.Item>
        {editing && (
          <>
            <Form.Item name="group" label={t('user.group')} rules={[{ required: true, message: t('form.required', { field: t('user.group') }) }]}>
              <Select
                showSearch
                options={mergeModels(['default'], groups, user?.group ? [user.group] : []).map((g) => ({ value: g, label: g }))}
                data-testid="user-form-group"
              />
            </Form.Item>
            <Form.Item
              name="quota"
              label={t('common.quota')}
              extra={display.displayInCurrency ? t('token.quotaEquals', { value: quota(q ?? 0) }) : undefined}
              rules={[{ required: true, message: t('form.required', { field: t('common.quota') }) }]}
            >
              <InputNumber min={0} precision={0} step={500000} style={{ width: '100%' }} data-testid="user-form-quota" />
            </Form.Item>
          </>
        )}
      </Form>
    </Modal>
  );
}

// Forced while the root account still uses the default password.
import { Alert, App, Button, Card, Form, Input } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { api, errorMessage } from '../api';
import { useSession } from '../session';

interface Values {
  original_password: string;
  password: string;
  password2: string;
}

export default function ChangePassword() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { mustChangePassword, refreshUser, reloadStatus } = useSession();
  const navigate = useNavigate();
  const [loading, setLoading] = useState(false);

  const onFinish = async (v: Values) => {
    setLoading(true);
    try {
      await api.put('/api/user/self', { original_password: v.original_password, password: v.password });
      message.success(t('password.changed'));
      await Promise.all([reloadStatus(), refreshUser()]);
      navigate('/dashboard', { replace: true });
    } catch (e) {
      message.error(errorMessage(e));
    } finally {
      setLoading(false);
    }
  };

  return (
    <Card className="auth-card" title={t('password.title')}>
      {mustChangePassword && (
        <Alert type="warning" showIcon style={{ marginBottom: 16 }} title={t('password.forced')} data-testid="password-forced" />
      )}
      <Form layout="vertical" onFinish={onFinish} data-testid="password-form">
        <Form.Item
          name="original_password"
          label={t('password.original')}
          rules={[{ required: true, message: t('login.passwordRequired') }]}
        >
          <Input.Password autoComplete="current-password" data-testid="password-original" />
        </Form.Item>
        <Form.Item
          name="password"
          label={t('password.new')}
          dependencies={['original_password']}
          rules={[
            { required: true, message: t('login.passwordRequired') },
            { min: 8, max: 20, message: t('form.passwordLength') },
            ({ getFieldValue }) => ({
              validator: async (_r, value) => {
                if (value && value === getFieldValue('original_password')) throw new Error(t('password.mustDiffer'));
              },
            }),
          ]}
        >
          <Input.Password autoComplete="new-password" data-testid="password-new" />
        </Form.Item>
        <Form.Item
          name="password2"
          label={t('register.confirmPassword')}
          dependencies={['password']}
          rules={[
            { required: true, message: t('login.passwordRequired') },
            ({ getFieldValue }) => ({
              validator: async (_r, value) => {
                if (value && value !== getFieldValue('password')) throw new Error(t('form.passwordMismatch'));
              },
            }),
          ]}
        >
          <Input.Password autoComplete="new-password" data-testid="password-confirm" />
        </Form.Item>
        <Button type="primary" htmlType="submit" block loading={loading} data-testid="password-submit">
          {t('password.submit')}
        </Button>
      </Form>
    </Card>
  );
}

import { Alert, App, Button, Card, Form, Input, Result, Space } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, errorMessage } from '../api';
import Turnstile from '../components/Turnstile';
import { useSession } from '../session';

const AFF_KEY = 'aff';

interface RegisterValues {
  username: string;
  password: string;
  password2: string;
  email?: string;
  verification_code?: string;
  aff_code?: string;
}

export default function Register() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { status } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [form] = Form.useForm<RegisterValues>();
  const [loading, setLoading] = useState(false);
  const [sending, setSending] = useState(false);
  const [countdown, setCountdown] = useState(0);
  const [error, setError] = useState('');
  const [turnstileToken, setTurnstileToken] = useState('');
  const onVerify = useCallback((token: string) => setTurnstileToken(token), []);

  useEffect(() => {
    let aff = params.get('aff') ?? '';
    try {
      if (aff) localStorage.setItem(AFF_KEY, aff);
      else aff = localStorage.getItem(AFF_KEY) ?? '';
    } catch {
      // ignore
    }
    if (aff) form.setFieldValue('aff_code', aff);
  }, [params, form]);

  useEffect(() => {
    if (countdown <= 0) return;
    const id = setTimeout(() => setCountdown((c) => c - 1), 1000);
    return () => clearTimeout(id);
  }, [countdown]);

  const turnstileQuery = status.turnstile_check ? { turnstile: turnstileToken } : {};

  const sendCode = async () => {
    try {
      await form.validateFields(['email']);
    } catch {
      return;
    }
    setSending(true);
    try {
      await api.get('/api/verification', { email: form.getFieldValue('email'), ...turnstileQuery });
      message.success(t('register.codeSent'));
      setCountdown(60);
    } catch (e) {
      message.error(errorMessage(e));
    } finally {
      setSending(false);
    }
  };

  const onFinish = async (v: RegisterValues) => {
    if (status.turnstile_check && !turnstileToken) {
      setError(t('auth.turnstileWait'));
      return;
    }
    setLoading(true);
    setError('');
    try {
      const body: Record<string, string> = { username: v.username, password: v.password };
      if (v.email) body.email = v.email;
      if (v.verification_code) body.verification_code = v.verification_code;
      if (v.aff_code) body.aff_code = v.aff_code;
      await api.post('/api/user/register', body, turnstileQuery);
      message.success(t('register.success'));
      navigate('/login');
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoading(false);
    }
  };

  if (status.register_enabled === false || status.password_register_enabled === false) {
    return (
      <Result
        status="info"
        title={t('register.closed')}
        extra={
          <Link to="/login">
            <Button type="primary">{t('login.submit')}</Button>
          </Link>
        }
      />
    );
  }

  return (
    <Card className="auth-card" title={t('register.title')}>
      {error && <Alert type="error" showIcon style={{ marginBottom: 16 }} title={error} data-testid="register-error" />}
      <Form form={form} layout="vertical" onFinish={onFinish} data-testid="register-form">
        <Form.Item
          name="username"
          label={t('login.username')}
          rules={[
            { required: true, message: t('login.usernameRequired') },
            { max: 12, message: t('form.maxLength', { count: 12 }) },
          ]}
        >
          <Input autoComplete="username" data-testid="register-username" />
        </Form.Item>
        <Form.Item
          name="password"
          label={t('login.password')}
          rules={[
            { required: true, message: t('login.passwordRequired') },
            { min: 8, max: 20, message: t('form.passwordLength') },
          ]}
        >
          <Input.Password autoComplete="new-password" data-testid="register-password" />
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
          <Input.Password autoComplete="new-password" data-testid="register-password2" />
        </Form.Item>
        {status.email_verification && (
          <>
            <Form.Item label={t('register.email')} required>
              <Space.Compact style={{ width: '100%' }}>
                <Form.Item
                  name="email"
                  noStyle
                  rules={[
                    { required: true, message: t('form.required', { field: t('register.email') }) },
                    { type: 'email', message: t('form.invalidEmail') },
                  ]}
                >
                  <Input data-testid="register-email" />
                </Form.Item>
                <Button onClick={sendCode} loading={sending} disabled={countdown > 0} data-testid="register-send-code">
                  {countdown > 0 ? t('register.resendIn', { count: countdown }) : t('register.sendCode')}
                </Button>
              </Space.Compact>
            </Form.Item>
            <Form.Item
              name="verification_code"
              label={t('register.code')}
              rules={[{ required: true, message: t('form.required', { field: t('register.code') }) }]}
            >
              <Input data-testid="register-code" />
            </Form.Item>
          </>
        )}
        <Form.Item name="aff_code" label={t('register.affCode')}>
          <Input data-testid="register-aff" />
        </Form.Item>
        {status.turnstile_check && status.turnstile_site_key && (
          <Turnstile siteKey={status.turnstile_site_key} onVerify={onVerify} />
        )}
        <Button type="primary" htmlType="submit" block loading={loading} data-testid="register-submit">
          {t('register.submit')}
        </Button>
      </Form>
      <div style={{ marginTop: 16 }}>
        {t('register.haveAccount')} <Link to="/login">{t('login.submit')}</Link>
      </div>
    </Card>
  );
}

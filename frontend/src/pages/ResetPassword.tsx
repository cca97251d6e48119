import { Alert, App, Button, Card, Form, Input } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { api, errorMessage } from '../api';
import Turnstile from '../components/Turnstile';
import { useSession } from '../session';

export default function ResetPassword() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { status } = useSession();
  const [loading, setLoading] = useState(false);
  const [sent, setSent] = useState(false);
  const [countdown, setCountdown] = useState(0);
  const [turnstileToken, setTurnstileToken] = useState('');
  const onVerify = useCallback((token: string) => setTurnstileToken(token), []);

  useEffect(() => {
    if (countdown <= 0) return;
    const id = setTimeout(() => setCountdown((c) => c - 1), 1000);
    return () => clearTimeout(id);
  }, [countdown]);

  const onFinish = async ({ email }: { email: string }) => {
    if (status.turnstile_check && !turnstileToken) {
      message.warning(t('auth.turnstileWait'));
      return;
    }
    setLoading(true);
    try {
      await api.get('/api/reset_password', { email, ...(status.turnstile_check ? { turnstile: turnstileToken } : {}) });
      setSent(true);
      setCountdown(30);
    } catch (e) {
      message.error(errorMessage(e));
    } finally {
      setLoading(false);
    }
  };

  return (
    <Card className="auth-card" title={t('reset.title')}>
      {sent && <Alert type="success" showIcon style={{ marginBottom: 16 }} title={t('reset.sent')} data-testid="reset-sent" />}
      <Form layout="vertical" onFinish={onFinish}>
        <Form.Item
          name="email"
          label={t('register.email')}
          rules={[
            { required: true, message: t('form.required', { field: t('register.email') }) },
            { type: 'email', message: t('form.invalidEmail') },
          ]}
        >
          <Input data-testid="reset-email" autoComplete="email" />
        </Form.Item>
        {status.turnstile_check && status.turnstile_site_key && (
          <Turnstile siteKey={status.turnstile_site_key} onVerify={onVerify} />
        )}
        <Button type="primary" htmlType="submit" block loading={loading} disabled={countdown > 0} data-testid="reset-submit">
          {countdown > 0 ? t('register.resendIn', { count: countdown }) : t('reset.submit')}
        </Button>
      </Form>
      <div style={{ marginTop: 16 }}>
        <Link to="/login">{t('reset.back')}</Link>
      </div>
    </Card>
  );
}

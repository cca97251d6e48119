import { GithubOutlined, IdcardOutlined, LockOutlined, SendOutlined, UserOutlined, WechatOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Divider, Flex, Form, Input, Space, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, errorMessage, ROLE_ROOT, type User } from '../api';
import Turnstile from '../components/Turnstile';
import WeChatCodeModal from '../components/WeChatCodeModal';
import { providerEnabled, startOAuth, type RedirectProvider } from '../lib/oauth';
import { useSession } from '../session';

/** Where to go after signing in: a local `redirect` path, else the dashboard. */
export function safeRedirect(redirect: string | null): string {
  return redirect && redirect.startsWith('/') && !redirect.startsWith('//') ? redirect : '/dashboard';
}

export default function Login() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { status, user, setUser } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const [turnstileToken, setTurnstileToken] = useState('');
  const onVerify = useCallback((token: string) => setTurnstileToken(token), []);
  const [wechatOpen, setWechatOpen] = useState(false);
  const redirect = safeRedirect(params.get('redirect'));

  useEffect(() => {
    if (user) navigate(redirect, { replace: true });
    // only on mount: after a login the submit handler navigates
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const signedIn = (u: User) => {
    setUser(u);
    message.success(t('login.success'));
    const mustChange = u.root_password_unchanged || (u.role >= ROLE_ROOT && status.root_password_unchanged);
    navigate(mustChange ? '/change-password' : redirect, { replace: true });
  };

  const oauth = (provider: RedirectProvider) => startOAuth(provider, status).catch((e) => message.error(errorMessage(e)));
  const others = [
    { id: 'github' as const, icon: <GithubOutlined /> },
    { id: 'wechat' as const, icon: <WechatOutlined /> },
    { id: 'lark' as const, icon: <SendOutlined /> },
    { id: 'oidc' as const, icon: <IdcardOutlined /> },
  ].filter(({ id }) => providerEnabled(status, id));

  const onFinish = async (values: { username: string; password: string }) => {
    if (status.turnstile_check && !turnstileToken) {
      setError(t('auth.turnstileWait'));
      return;
    }
    setLoading(true);
    setError('');
    try {
      const u = await api.post<User>('/api/user/login', values, status.turnstile_check ? { turnstile: turnstileToken } : undefined);
      signedIn(u);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoading(false);
    }
  };

  return (
    <Card className="auth-card" title={t('login.title', { name: status.system_name || 'One API' })}>
      {status.password_login_enabled === false && (
        <Alert type="info" showIcon style={{ marginBottom: 16 }} title={t('login.passwordLoginDisabled')} />
      )}
      {error && <Alert type="error" showIcon style={{ marginBottom: 16 }} title={error} data-testid="login-error" />}
      <Form layout="vertical" onFinish={onFinish} requiredMark={false} data-testid="login-form">
        <Form.Item name="username" label={t('login.username')} rules={[{ required: true, message: t('login.usernameRequired') }]}>
          <Input prefix={<UserOutlined />} autoComplete="username" data-testid="login-username" autoFocus />
        </Form.Item>
        <Form.Item name="password" label={t('login.password')} rules={[{ required: true, message: t('login.passwordRequired') }]}>
          <Input.Password prefix={<LockOutlined />} autoComplete="current-password" data-testid="login-password" />
        </Form.Item>
        {status.turnstile_check && status.turnstile_site_key && (
          <Turnstile siteKey={status.turnstile_site_key} onVerify={onVerify} />
        )}
        <Button type="primary" htmlType="submit" block loading={loading} data-testid="login-submit">
          {t('login.submit')}
        </Button>
      </Form>
      <Flex justify="space-between" style={{ marginTop: 16 }}>
        <Link to="/reset" data-testid="login-forgot">
          {t('login.forgot')}
        </Link>
        {status.register_enabled !== false && (
          <Link to="/register" data-testid="login-register">
            {t('login.register')}
          </Link>
        )}
      </Flex>
      {others.length > 0 && (
        <>
          <Divider plain>
            <Typography.Text type="secondary">{t('login.or')}</Typography.Text>
          </Divider>
          <Space orientation="vertical" style={{ width: '100%' }}>
            {others.map(({ id, icon }) => (
              <Button key={id} block icon={icon} data-testid={`login-${id}`} onClick={() => (id === 'wechat' ? setWechatOpen(true) : oauth(id))}>
                {t(`login.${id}`)}
              </Button>
            ))}
          </Space>
          <WeChatCodeModal
            open={wechatOpen}
            qrcode={status.wechat_qrcode}
            onClose={() => setWechatOpen(false)}
            onCode={async (code) => {
              const u = await api.get<User>('/api/oauth/wechat', { code });
              setWechatOpen(false);
              signedIn(u);
            }}
          />
        </>
      )}
    </Card>
  );
}

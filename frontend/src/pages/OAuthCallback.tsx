// The provider sends the browser back here with ?code=&state= (routes /oauth/github,
// /oauth/lark, /oauth/oidc); the backend signs in, registers, or (signed in) binds:
// One API answers a binding with message "bind".
import { App, Button, Result, Spin } from 'antd';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, errorMessage, type Envelope, type User } from '../api';
import { PROVIDER_NAMES, type RedirectProvider } from '../lib/oauth';
import { useSession } from '../session';

export default function OAuthCallback({ provider }: { provider: RedirectProvider }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const { setUser, refreshUser } = useSession();
  const [error, setError] = useState('');
  const started = useRef(false);
  const name = PROVIDER_NAMES[provider];

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    api
      .message('GET', `/api/oauth/${provider}`, undefined, { code: params.get('code'), state: params.get('state') })
      .then(async (env: Envelope<unknown>) => {
        if (env.message === 'bind') {
          await refreshUser();
          message.success(t('profile.bound', { provider: name }));
          navigate('/profile', { replace: true });
        } else {
          setUser(env.data as User);
          navigate('/dashboard', { replace: true });
        }
      })
      .catch((e) => setError(errorMessage(e)));
  }, [params, navigate, setUser, refreshUser, provider, message, t, name]);

  if (error) {
    return (
      <Result
        status="error"
        title={t('oauth.failed', { provider: name })}
        subTitle={error}
        extra={
          <Link to="/login">
            <Button type="primary">{t('reset.back')}</Button>
          </Link>
        }
      />
    );
  }
  return <Spin size="large" style={{ display: 'block', margin: '80px auto' }} tip={t('oauth.working')} />;
}

// GitHub redirects here with ?code=&state=; the backend finishes the sign-in (or binding).
import { Button, Result, Spin } from 'antd';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, errorMessage, type Envelope, type User } from '../api';
import { useSession } from '../session';

export default function GitHubOAuth() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const { setUser, refreshUser } = useSession();
  const [error, setError] = useState('');
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    api
      .message('GET', '/api/oauth/github', undefined, { code: params.get('code'), state: params.get('state') })
      .then(async (env: Envelope<unknown>) => {
        if (env.message === 'bind') {
          await refreshUser();
          navigate('/profile', { replace: true });
        } else {
          setUser(env.data as User);
          navigate('/dashboard', { replace: true });
        }
      })
      .catch((e) => setError(errorMessage(e)));
  }, [params, navigate, setUser, refreshUser]);

  if (error) {
    return (
      <Result
        status="error"
        title={t('oauth.failed')}
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

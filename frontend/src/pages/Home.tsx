import { NotificationOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Descriptions, Space, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { api, errorMessage } from '../api';
import Content from '../components/Content';
import Loading from '../components/Loading';
import { formatTime } from '../lib/format';
import { PROVIDER_NAMES, PROVIDERS, providerEnabled } from '../lib/oauth';
import { useSession } from '../session';

export default function Home() {
  const { t } = useTranslation();
  const { status, user } = useSession();
  const navigate = useNavigate();
  const [home, setHome] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState('');

  useEffect(() => {
    api
      .get<string>('/api/home_page_content')
      .then((c) => setHome(c ?? ''))
      .catch((e) => {
        setError(errorMessage(e));
        setHome('');
      });
    api
      .get<string>('/api/notice')
      .then((n) => setNotice(n ?? ''))
      .catch(() => setNotice(''));
  }, []);

  if (home === null) return <Loading />;

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      {notice.trim() && (
        <Card
          size="small"
          data-testid="notice"
          title={
            <span>
              <NotificationOutlined /> {t('home.notice')}
            </span>
          }
        >
          <Content content={notice} />
        </Card>
      )}
      {error && <Alert type="error" showIcon title={error} />}
      {home.trim() ? (
        <Content content={home} testId="home-content" />
      ) : (
        <Card data-testid="home-default">
          <Typography.Title level={3}>{t('home.welcome', { name: status.system_name || 'One API' })}</Typography.Title>
          <Typography.Paragraph>{t('home.intro')}</Typography.Paragraph>
          <Descriptions
            column={1}
            size="small"
            bordered
            items={[
              { key: 'version', label: t('home.version'), children: status.version || '-' },
              { key: 'start', label: t('home.startTime'), children: formatTime(status.start_time) || '-' },
              { key: 'api', label: t('home.apiBase'), children: <Typography.Text copyable>{`${window.location.origin}/v1`}</Typography.Text> },
              {
                key: 'login',
                label: t('home.signIn'),
                children: [
                  status.password_login_enabled !== false ? t('home.password') : null,
                  ...PROVIDERS.filter((p) => providerEnabled(status, p)).map((p) => PROVIDER_NAMES[p]),
                ]
                  .filter(Boolean)
                  .join(' / ') || '-',
              },
            ]}
          />
          <Space style={{ marginTop: 16 }}>
            {user ? (
              <Button type="primary" onClick={() => navigate('/dashboard')} data-testid="home-dashboard">
                {t('menu.dashboard')}
              </Button>
            ) : (
              <Button type="primary" onClick={() => navigate('/login')} data-testid="home-login">
                {t('login.submit')}
              </Button>
            )}
          </Space>
        </Card>
      )}
    </Space>
  );
}

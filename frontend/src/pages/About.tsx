import { Alert, Card, Empty } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage } from '../api';
import Content from '../components/Content';
import Loading from '../components/Loading';

export default function About() {
  const { t } = useTranslation();
  const [about, setAbout] = useState<string | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    api
      .get<string>('/api/about')
      .then((a) => setAbout(a ?? ''))
      .catch((e) => {
        setError(errorMessage(e));
        setAbout('');
      });
  }, []);

  if (about === null) return <Loading />;
  if (error) return <Alert type="error" showIcon title={error} />;
  if (!about.trim()) {
    return (
      <Card title={t('menu.about')}>
        <Empty description={t('about.empty')} data-testid="about-empty" />
      </Card>
    );
  }
  return <Content content={about} testId="about-content" />;
}

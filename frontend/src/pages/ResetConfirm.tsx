// Target of the e-mailed reset link: /user/reset?email=…&token=…
import { Alert, App, Button, Card, Descriptions, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { api, errorMessage } from '../api';
import { useCopy } from '../components/useCopy';

export default function ResetConfirm() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const copy = useCopy();
  const [params] = useSearchParams();
  const email = params.get('email') ?? '';
  const token = params.get('token') ?? '';
  const [loading, setLoading] = useState(false);
  const [password, setPassword] = useState('');

  const confirm = async () => {
    setLoading(true);
    try {
      const p = await api.post<string>('/api/user/reset', { email, token });
      setPassword(p);
      void copy(p);
    } catch (e) {
      message.error(errorMessage(e));
    } finally {
      setLoading(false);
    }
  };

  return (
    <Card className="auth-card" title={t('reset.confirmTitle')}>
      {!email || !token ? (
        <Alert type="error" showIcon title={t('reset.badLink')} />
      ) : (
        <>
          <Descriptions column={1} size="small" items={[{ key: 'email', label: t('register.email'), children: email }]} />
          {password ? (
            <Alert
              style={{ marginTop: 16 }}
              type="success"
              showIcon
              title={t('reset.newPassword')}
              description={
                <Typography.Text copyable code data-testid="reset-new-password">
                  {password}
                </Typography.Text>
              }
            />
          ) : (
            <Button type="primary" block style={{ marginTop: 16 }} loading={loading} onClick={confirm} data-testid="reset-confirm">
              {t('reset.confirm')}
            </Button>
          )}
        </>
      )}
      <div style={{ marginTop: 16 }}>
        <Link to="/login">{t('reset.back')}</Link>
      </div>
    </Card>
  );
}

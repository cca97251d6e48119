import { Button, Result } from 'antd';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';

export default function NotFound() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  return (
    <div data-testid="not-found">
      <Result
        status="404"
        title="404"
        subTitle={t('common.notFound')}
        extra={
          <Button type="primary" onClick={() => navigate('/')}>
            {t('menu.home')}
          </Button>
        }
      />
    </div>
  );
}

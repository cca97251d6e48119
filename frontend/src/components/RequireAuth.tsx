// Route guard: signed in, of at least `minRole`, default root password changed.
import { Result, Spin } from 'antd';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useLocation } from 'react-router';
import { useSession } from '../session';

export default function RequireAuth({ minRole = 1, children }: { minRole?: number; children: ReactNode }) {
  const { user, userChecked, mustChangePassword } = useSession();
  const location = useLocation();
  const { t } = useTranslation();
  if (!user) {
    if (!userChecked) return <Spin style={{ display: 'block', margin: '80px auto' }} />;
    if (window.location.pathname !== location.pathname) return null; // leaving already (sign-out → /login): no ?redirect= to this page
    const redirect = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/login?redirect=${redirect}`} replace />;
  }
  if (mustChangePassword && location.pathname !== '/change-password') {
    return <Navigate to="/change-password" replace />;
  }
  if (user.role < minRole) {
    return <Result status="403" title="403" subTitle={t('common.forbidden')} />;
  }
  return <>{children}</>;
}

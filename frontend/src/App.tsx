// Providers (antd locale, session, router) and the route table, with the pages of the
// loaded plugins (src/plugins). Pages load lazily.
import { App as AntApp, ConfigProvider } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { lazy, useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { BrowserRouter, Route, Routes } from 'react-router';
import { ROLE_ADMIN, ROLE_ROOT } from './api';
import AppLayout from './components/AppLayout';
import RequireAuth from './components/RequireAuth';
import Loading from './components/Loading';
import { routesOf } from './plugins/registry';
import { usePlugins } from './plugins/usePlugins';
import { SessionProvider, useSession } from './session';

const Home = lazy(() => import('./pages/Home'));
const About = lazy(() => import('./pages/About'));
const Login = lazy(() => import('./pages/Login'));
const Register = lazy(() => import('./pages/Register'));
const ResetPassword = lazy(() => import('./pages/ResetPassword'));
const ResetConfirm = lazy(() => import('./pages/ResetConfirm'));
const OAuthCallback = lazy(() => import('./pages/OAuthCallback'));
const ChangePassword = lazy(() => import('./pages/ChangePassword'));
const Dashboard = lazy(() => import('./pages/Dashboard'));
const Tokens = lazy(() => import('./pages/Tokens'));
const Channels = lazy(() => import('./pages/Channels'));
const Logs = lazy(() => import('./pages/Logs'));
const Users = lazy(() => import('./pages/Users'));
const Redemptions = lazy(() => import('./pages/Redemptions'));
const Settings = lazy(() => import('./pages/Settings'));
const TopUp = lazy(() => import('./pages/TopUp'));
const Profile = lazy(() => import('./pages/Profile'));
const NotFound = lazy(() => import('./pages/NotFound'));

const guard = (el: React.ReactNode, minRole = 1) => <RequireAuth minRole={minRole}>{el}</RequireAuth>;

export function AppRoutes() {
  const { statusLoaded } = useSession();
  const plugins = usePlugins();
  return (
    <Routes>
      <Route element={<AppLayout />}>
        <Route index element={<Home />} />
        <Route path="about" element={<About />} />
        <Route path="login" element={<Login />} />
        <Route path="register" element={<Register />} />
        <Route path="reset" element={<ResetPassword />} />
        <Route path="user/reset" element={<ResetConfirm />} />
        <Route path="oauth/github" element={<OAuthCallback provider="github" />} />
        <Route path="oauth/lark" element={<OAuthCallback provider="lark" />} />
        <Route path="oauth/oidc" element={<OAuthCallback provider="oidc" />} />
        <Route path="change-password" element={guard(<ChangePassword />)} />
        <Route path="dashboard" element={guard(<Dashboard />)} />
        <Route path="token" element={guard(<Tokens />)} />
        <Route path="log" element={guard(<Logs />)} />
        <Route path="topup" element={guard(<TopUp />)} />
        <Route path="profile" element={guard(<Profile />)} />
        <Route path="channel" element={guard(<Channels />, ROLE_ADMIN)} />
        <Route path="user" element={guard(<Users />, ROLE_ADMIN)} />
        <Route path="redemption" element={guard(<Redemptions />, ROLE_ADMIN)} />
        <Route path="setting" element={guard(<Settings />, ROLE_ROOT)} />
        {routesOf(plugins).map(({ path, component: Page, minRole }) => (
          <Route key={path} path={path} element={guard(<Page />, minRole)} />
        ))}
        {/* a plugin's page is known once /api/status has said which plugins are loaded */}
        <Route path="*" element={statusLoaded ? <NotFound /> : <Loading />} />
      </Route>
    </Routes>
  );
}

export default function App() {
  const { i18n } = useTranslation();
  const zh = i18n.language === 'zh-CN';
  useEffect(() => {
    dayjs.locale(zh ? 'zh-cn' : 'en');
    document.documentElement.lang = i18n.language;
  }, [zh, i18n.language]);
  return (
    <ConfigProvider locale={zh ? zhCN : enUS} theme={{ token: { colorPrimary: '#1677ff' } }}>
      <AntApp>
        <SessionProvider>
          <BrowserRouter>
            <AppRoutes />
          </BrowserRouter>
        </SessionProvider>
      </AntApp>
    </ConfigProvider>
  );
}

// The frame of every page: header (logo, language, account), side menu filtered by
// role (a drawer on phones), content and footer.
import {
  AppstoreOutlined,
  ApiOutlined,
  CommentOutlined,
  CreditCardOutlined,
  DashboardOutlined,
  FileTextOutlined,
  GiftOutlined,
  HomeOutlined,
  InfoCircleOutlined,
  KeyOutlined,
  LogoutOutlined,
  MenuOutlined,
  SettingOutlined,
  TeamOutlined,
  UserOutlined,
} from '@ant-design/icons';
import { Avatar, Button, Drawer, Dropdown, Grid, Layout, Menu, Typography, type MenuProps } from 'antd';
import { Suspense, useMemo, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Outlet, useLocation, useNavigate } from 'react-router';
import { ROLE_ADMIN, ROLE_ROOT } from '../api';
import { mergeNav, navOf } from '../plugins/registry';
import { usePlugins } from '../plugins/usePlugins';
import { useSession } from '../session';
import LangSwitch from './LangSwitch';
import Loading from './Loading';

const { Header, Sider, Content, Footer } = Layout;

export interface NavItem {
  key: string;
  path: string;
  icon: ReactNode;
  /** 0 = public, 1 = signed in, 10 = admin, 100 = root */
  minRole: number;
}

export const NAV_ITEMS: NavItem[] = [
  { key: 'home', path: '/', icon: <HomeOutlined />, minRole: 0 },
  { key: 'dashboard', path: '/dashboard', icon: <DashboardOutlined />, minRole: 1 },
  { key: 'token', path: '/token', icon: <KeyOutlined />, minRole: 1 },
  { key: 'channel', path: '/channel', icon: <ApiOutlined />, minRole: ROLE_ADMIN },
  { key: 'user', path: '/user', icon: <TeamOutlined />, minRole: ROLE_ADMIN },
  { key: 'redemption', path: '/redemption', icon: <GiftOutlined />, minRole: ROLE_ADMIN },
  { key: 'log', path: '/log', icon: <FileTextOutlined />, minRole: 1 },
  { key: 'topup', path: '/topup', icon: <CreditCardOutlined />, minRole: 1 },
  { key: 'setting', path: '/setting', icon: <SettingOutlined />, minRole: ROLE_ROOT },
  { key: 'profile', path: '/profile', icon: <UserOutlined />, minRole: 1 },
  { key: 'about', path: '/about', icon: <InfoCircleOutlined />, minRole: 0 },
];

/** Menu keys visible to a role (0 when signed out), with the active plugins' items. */
export function visibleNavKeys(role: number, items: NavItem[] = NAV_ITEMS): string[] {
  return items.filter((i) => (i.minRole === 0 ? true : role >= i.minRole)).map((i) => i.key);
}

function selectedKey(pathname: string, items: NavItem[]): string {
  if (pathname === '/') return 'home';
  const hit = items.filter((i) => i.path !== '/' && (pathname === i.path || pathname.startsWith(`${i.path}/`))).sort((a, b) => b.path.length - a.path.length)[0];
  return hit?.key ?? '';
}

export default function AppLayout() {
  const { t } = useTranslation();
  const { status, user, logout, quota } = useSession();
  const screens = Grid.useBreakpoint();
  const mobile = !screens.lg;
  const [collapsed, setCollapsed] = useState(false);
  const navigate = useNavigate();
  const location = useLocation();
  // The drawer is open on the page where it was opened: moving to another page closes it.
  const [drawerAt, setDrawerAt] = useState<string | null>(null);
  const drawerOpen = drawerAt === location.pathname;
  const setDrawerOpen = (open: boolean) => setDrawerAt(open ? location.pathname : null);

  const role = user?.role ?? 0;
  const plugins = usePlugins();
  const navItems = useMemo(() => mergeNav(NAV_ITEMS, navOf(plugins)), [plugins]);
  const items = useMemo<MenuProps['items']>(() => {
    const keys = new Set(visibleNavKeys(role, navItems));
    const list: NonNullable<MenuProps['items']> = navItems.filter((i) => keys.has(i.key)).map((i) => ({
      key: i.key,
      icon: i.icon,
      label: <span data-testid={`menu-${i.key}`}>{t(`menu.${i.key}`)}</span>,
      title: t(`menu.${i.key}`),
    }));
    if (status.chat_link && user) {
      list.splice(3, 0, {
        key: 'chat',
        icon: <CommentOutlined />,
        label: <span data-testid="menu-chat">{t('menu.chat')}</span>,
        title: t('menu.chat'),
      });
    }
    return list;
  }, [role, t, status.chat_link, user, navItems]);

  const onMenuClick: MenuProps['onClick'] = ({ key }) => {
    if (key === 'chat') {
      window.open(status.chat_link, '_blank', 'noopener');
      return;
    }
    const item = navItems.find((i) => i.key === key);
    if (item) navigate(item.path);
  };

  const menu = (
    <Menu
      mode="inline"
      selectedKeys={[selectedKey(location.pathname, navItems)]}
      items={items}
      onClick={onMenuClick}
      data-testid="side-menu"
      style={{ borderInlineEnd: 'none' }}
    />
  );

  const systemName = status.system_name || 'One API';
  const logo = status.logo || '/logo.svg';

  const accountMenu: MenuProps = {
    items: [
      { key: 'quota', disabled: true, label: `${t('profile.balance')}: ${quota(user?.quota)}` },
      { type: 'divider' },
      { key: 'profile', icon: <UserOutlined />, label: <span data-testid="account-profile">{t('menu.profile')}</span> },
      { key: 'logout', icon: <LogoutOutlined />, label: <span data-testid="logout">{t('header.logout')}</span> },
    ],
    onClick: async ({ key }) => {
      if (key === 'profile') navigate('/profile');
      if (key === 'logout') {
        await logout();
        navigate('/login');
      }
    },
  };

  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Header
        style={{
          position: 'sticky',
          top: 0,
          zIndex: 10,
          display: 'flex',
          alignItems: 'center',
          gap: 12,
          paddingInline: mobile ? 12 : 24,
          background: '#fff',
          borderBottom: '1px solid #f0f0f0',
        }}
      >
        <Button
          type="text"
          icon={<MenuOutlined />}
          aria-label={t('header.menu')}
          data-testid="menu-toggle"
          onClick={() => (mobile ? setDrawerOpen(true) : setCollapsed((c) => !c))}
        />
        <Link to="/" style={{ display: 'flex', alignItems: 'center', gap: 8, minWidth: 0 }} data-testid="brand">
          <img src={logo} alt="" style={{ width: 28, height: 28, borderRadius: 6 }} />
          <Typography.Text strong ellipsis style={{ fontSize: 16, maxWidth: mobile ? 140 : 320 }}>
            {systemName}
          </Typography.Text>
        </Link>
        <div style={{ flex: 1 }} />
        <LangSwitch />
        {user ? (
          <Dropdown menu={accountMenu} trigger={['click']}>
            <Button type="text" data-testid="account-menu" style={{ paddingInline: 4 }}>
              <Avatar size="small" icon={<UserOutlined />} />
              {!mobile && <span>{user.display_name || user.username}</span>}
            </Button>
          </Dropdown>
        ) : (
          <Button type="primary" data-testid="header-login" onClick={() => navigate('/login')}>
            {t('login.submit')}
          </Button>
        )}
      </Header>
      <Layout>
        {mobile ? (
          <Drawer
            placement="left"
            open={drawerOpen}
            onClose={() => setDrawerOpen(false)}
            size={240}
            styles={{ body: { padding: 0 } }}
            title={systemName}
          >
            {menu}
          </Drawer>
        ) : (
          <Sider
            theme="light"
            width={208}
            collapsible
            collapsed={collapsed}
            trigger={null}
            style={{ borderInlineEnd: '1px solid #f0f0f0' }}
          >
            {menu}
          </Sider>
        )}
        <Layout>
          <Content style={{ padding: mobile ? 12 : 24, minWidth: 0 }}>
            <Suspense fallback={<Loading />}>
              <Outlet />
            </Suspense>
          </Content>
          <Footer style={{ textAlign: 'center', padding: '12px 24px' }}>
            {status.footer_html ? (
              <div data-testid="footer" dangerouslySetInnerHTML={{ __html: status.footer_html }} />
            ) : (
              <Typography.Text type="secondary" data-testid="footer">
                <AppstoreOutlined /> {systemName} {status.version ?? ''}
              </Typography.Text>
            )}
          </Footer>
        </Layout>
      </Layout>
    </Layout>
  );
}

import { KeyOutlined, LinkOutlined, LockOutlined } from '@ant-design/icons';
import { App, Button, Card, Descriptions, Form, Input, Space, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { api, errorMessage } from '../api';
import AccountBindings from '../components/AccountBindings';
import { StatusTag } from '../components/tags';
import { useCopy } from '../components/useCopy';
import { formatNumber } from '../lib/format';
import { useSession } from '../session';

export default function Profile() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { user, quota, refreshUser } = useSession();
  const navigate = useNavigate();
  const copy = useCopy();
  const [saving, setSaving] = useState(false);
  const [accessToken, setAccessToken] = useState('');
  const [affLink, setAffLink] = useState('');

  if (!user) return null;

  const saveName = async ({ display_name }: { display_name: string }) => {
    setSaving(true);
    try {
      await api.put('/api/user/self', { display_name: display_name.trim() });
      await refreshUser();
      message.success(t('common.saved'));
    } catch (e) {
      message.error(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };

  const makeAccessToken = async () => {
    try {
      const tok = await api.get<string>('/api/user/token');
      setAccessToken(tok);
      void copy(tok);
    } catch (e) {
      message.error(errorMessage(e));
    }
  };

  const makeAffLink = async () => {
    try {
      const code = await api.get<string>('/api/user/aff');
      const link = `${window.location.origin}/register?aff=${encodeURIComponent(code)}`;
      setAffLink(link);
      void copy(link);
    } catch (e) {
      message.error(errorMessage(e));
    }
  };

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Card title={t('menu.profile')}>
        <Descriptions
          column={{ xs: 1, md: 2 }}
          size="small"
          bordered
          items={[
            { key: 'username', label: t('login.username'), children: user.username },
            { key: 'role', label: t('user.role'), children: <StatusTag kind="role" value={user.role} t={t} /> },
            { key: 'email', label: t('register.email'), children: user.email || '-' },
            { key: 'group', label: t('user.group'), children: user.group || 'default' },
            { key: 'quota', label: t('dashboard.balance'), children: quota(user.quota) },
            { key: 'used', label: t('dashboard.used'), children: quota(user.used_quota) },
            { key: 'requests', label: t('dashboard.requests'), children: formatNumber(user.request_count) },
          ]}
        />
      </Card>
      <Card title={t('profile.editTitle')}>
        <Form layout="inline" initialValues={{ display_name: user.display_name ?? '' }} onFinish={saveName} style={{ rowGap: 8 }}>
          <Form.Item name="display_name" label={t('user.displayName')} rules={[{ max: 20, message: t('form.maxLength', { count: 20 }) }]}>
            <Input data-testid="profile-display-name" />
          </Form.Item>
          <Form.Item>
            <Button type="primary" htmlType="submit" loading={saving} data-testid="profile-save">
              {t('common.save')}
            </Button>
          </Form.Item>
        </Form>
        <Space wrap style={{ marginTop: 16 }}>
          <Button icon={<LockOutlined />} onClick={() => navigate('/change-password')} data-testid="profile-change-password">
            {t('password.title')}
          </Button>
          <Button icon={<KeyOutlined />} onClick={makeAccessToken} data-testid="profile-access-token">
            {t('profile.accessToken')}
          </Button>
          <Button icon={<LinkOutlined />} onClick={makeAffLink} data-testid="profile-aff-link">
            {t('profile.affLink')}
          </Button>
        </Space>
        {accessToken && (
          <div style={{ marginTop: 12 }}>
            <Typography.Text type="secondary">{t('profile.accessTokenHelp')}</Typography.Text>
            <br />
            <Typography.Text code copyable data-testid="profile-access-token-value">
              {accessToken}
            </Typography.Text>
          </div>
        )}
        {affLink && (
          <div style={{ marginTop: 12 }}>
            <Typography.Text type="secondary">{t('profile.affHelp')}</Typography.Text>
            <br />
            <Typography.Text code copyable data-testid="profile-aff-link-value">
              {affLink}
            </Typography.Text>
          </div>
        )}
      </Card>
      <AccountBindings user={user} />
    </Space>
  );
}

// The profile's sign-in accounts: GitHub, WeChat, Lark and OIDC, each bound or not, with
// Bind (when the site offers that sign-in) and Unbind (DELETE /api/user/self/bindings/{type}).
import { App, Button, Card, Descriptions, Flex, Popconfirm, Space, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type User } from '../api';
import { boundId, PROVIDER_NAMES, PROVIDERS, providerEnabled, startOAuth, type Provider } from '../lib/oauth';
import { useSession } from '../session';
import WeChatCodeModal from './WeChatCodeModal';

export default function AccountBindings({ user }: { user: User }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { status, refreshUser } = useSession();
  const [wechatOpen, setWechatOpen] = useState(false);

  const bind = (provider: Provider) => {
    if (provider === 'wechat') setWechatOpen(true);
    else startOAuth(provider, status).catch((e) => message.error(errorMessage(e)));
  };

  const unbind = async (provider: Provider) => {
    try {
      await api.del(`/api/user/self/bindings/${provider}`);
      await refreshUser();
      message.success(t('profile.unbound', { provider: PROVIDER_NAMES[provider] }));
    } catch (e) {
      message.error(errorMessage(e));
    }
  };

  const rows = PROVIDERS.filter((p) => providerEnabled(status, p) || boundId(user, p));
  if (rows.length === 0) return null;

  return (
    <Card title={t('profile.bindings')}>
      <Descriptions
        column={1}
        size="small"
        bordered
        items={rows.map((provider) => {
          const id = boundId(user, provider);
          const name = PROVIDER_NAMES[provider];
          return {
            key: provider,
            label: name,
            children: (
              <Flex justify="space-between" align="center" gap={8} wrap data-testid={`binding-${provider}`}>
                {id ? <Typography.Text code>{id}</Typography.Text> : <Tag>{t('profile.notBound')}</Tag>}
                <Space>
                  {providerEnabled(status, provider) && (
                    <Button size="small" onClick={() => bind(provider)} data-testid={`profile-bind-${provider}`}>
                      {id ? t('profile.rebind') : t('profile.bind')}
                    </Button>
                  )}
                  {id && (
                    <Popconfirm
                      title={t('profile.unbindConfirm', { provider: name })}
                      onConfirm={() => unbind(provider)}
                      okButtonProps={{ danger: true, 'data-testid': 'confirm-ok' }}
                    >
                      <Button size="small" danger data-testid={`profile-unbind-${provider}`}>
                        {t('profile.unbind')}
                      </Button>
                    </Popconfirm>
                  )}
                </Space>
              </Flex>
            ),
          };
        })}
      />
      <WeChatCodeModal
        open={wechatOpen}
        qrcode={status.wechat_qrcode}
        onClose={() => setWechatOpen(false)}
        onCode={async (code) => {
          await api.get('/api/oauth/wechat/bind', { code });
          setWechatOpen(false);
          await refreshUser();
          message.success(t('profile.bound', { provider: 'WeChat' }));
        }}
      />
    </Card>
  );
}

// Top up: the balance, redeeming a code (core), and what plugins add (online payment).
import { GiftOutlined, LinkOutlined, WalletOutlined } from '@ant-design/icons';
import { App, Button, Card, Col, Input, Row, Space, Statistic, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage } from '../api';
import PluginSlot from '../plugins/PluginSlot';
import { useSession } from '../session';

export default function TopUp() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { status, user, refreshUser, quota } = useSession();
  const [code, setCode] = useState('');
  const [redeeming, setRedeeming] = useState(false);

  const redeem = async () => {
    if (!code.trim()) {
      message.warning(t('topup.codeRequired'));
      return;
    }
    setRedeeming(true);
    try {
      const added = await api.post<number>('/api/user/topup', { key: code.trim() });
      message.success(t('topup.redeemed', { quota: quota(Number(added) || 0) }));
      setCode('');
      await refreshUser();
    } catch (e) {
      message.error(errorMessage(e));
    } finally {
      setRedeeming(false);
    }
  };

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Row gutter={[16, 16]}>
        <Col xs={24} md={8}>
          <Card style={{ height: '100%' }}>
            <Statistic title={t('dashboard.balance')} value={quota(user?.quota)} prefix={<WalletOutlined />} data-testid="topup-balance" />
            <Typography.Text type="secondary">{t('topup.usedSoFar', { quota: quota(user?.used_quota) })}</Typography.Text>
          </Card>
        </Col>
        <Col xs={24} md={16}>
          <Card
            title={
              <span>
                <GiftOutlined /> {t('topup.redeemTitle')}
              </span>
            }
            style={{ height: '100%' }}
          >
            <Space.Compact style={{ width: '100%' }}>
              <Input
                value={code}
                onChange={(e) => setCode(e.target.value)}
                onPressEnter={redeem}
                placeholder={t('topup.codePlaceholder')}
                allowClear
                data-testid="topup-redeem-code"
              />
              <Button type="primary" loading={redeeming} onClick={redeem} data-testid="topup-redeem-submit">
                {t('topup.redeem')}
              </Button>
            </Space.Compact>
            {status.top_up_link && (
              <Button type="link" icon={<LinkOutlined />} href={status.top_up_link} target="_blank" style={{ paddingLeft: 0, marginTop: 8 }} data-testid="topup-buy-link">
                {t('topup.buyCode')}
              </Button>
            )}
          </Card>
        </Col>
      </Row>
      <PluginSlot name="topup" />
    </Space>
  );
}

import { GiftOutlined, LinkOutlined, ReloadOutlined, WalletOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Col, Empty, Form, Input, InputNumber, Radio, Row, Space, Statistic, Table, Tag, Typography, type TableColumnsType } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type PayForm, type TopUpOrder } from '../api';
import Pager from '../components/Pager';
import { useList } from '../components/useList';
import { formatTime } from '../lib/format';
import { submitPayment } from '../lib/payment';
import { useSession } from '../session';

const ORDER_COLORS: Record<string, string> = { success: 'green', pending: 'gold', failed: 'red', expired: 'default' };

export default function TopUp() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { status, user, refreshUser, quota } = useSession();
  const [code, setCode] = useState('');
  const [redeeming, setRedeeming] = useState(false);
  const methods = Array.isArray(status.pay_methods) ? status.pay_methods : [];
  const minTopUp = Math.max(1, Number(status.min_topup) || 1);
  const [amount, setAmount] = useState<number | null>(minTopUp);
  const [method, setMethod] = useState<string>('');
  const [price, setPrice] = useState<string>('');
  const [priceError, setPriceError] = useState('');
  const [paying, setPaying] = useState(false);
  const orders = useList<TopUpOrder>('/api/user/topup/self');

  useEffect(() => {
    if (!method && methods.length) setMethod(methods[0].type);
  }, [methods, method]);

  // Price preview, debounced while typing.
  useEffect(() => {
    if (!methods.length || !method || !amount || amount < minTopUp) {
      setPrice('');
      return;
    }
    let alive = true;
    const id = setTimeout(() => {
      api
        .post<string>('/api/user/amount', { amount, payment_method: method })
        .then((p) => alive && (setPrice(String(p)), setPriceError('')))
        .catch((e) => alive && (setPrice(''), setPriceError(errorMessage(e))));
    }, 300);
    return () => {
      alive = false;
      clearTimeout(id);
    };
  }, [amount, method, methods.length, minTopUp]);

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

  const pay = async () => {
    if (!amount || amount < minTopUp) {
      message.warning(t('topup.minAmount', { min: minTopUp }));
      return;
    }
    setPaying(true);
    try {
      const answer = await api.post<PayForm>('/api/user/pay', { amount, payment_method: method });
      submitPayment(answer);
    } catch (e) {
      message.error(errorMessage(e));
      setPaying(false);
    }
  };

  const columns: TableColumnsType<TopUpOrder> = [
    { title: t('topup.tradeNo'), dataIndex: 'trade_no', key: 'trade_no', render: (v: string) => <Typography.Text copyable>{v}</Typography.Text> },
    { title: t('topup.amount'), dataIndex: 'amount', key: 'amount', render: (v: number) => `$${v}` },
    { title: t('topup.money'), dataIndex: 'money', key: 'money', render: (v: number) => (Number(v) || 0).toFixed(2) },
    {
      title: t('topup.method'),
      dataIndex: 'payment_method',
      key: 'method',
      render: (v: string) => methods.find((m) => m.type === v)?.name ?? v,
    },
    {
      title: t('common.status'),
      dataIndex: 'status',
      key: 'status',
      render: (v: string) => <Tag color={ORDER_COLORS[String(v)] ?? 'default'}>{t(`topup.orderStatus.${v}`, { defaultValue: String(v) })}</Tag>,
    },
    { title: t('common.createdTime'), dataIndex: 'create_time', key: 'create', render: (v: number) => formatTime(v) },
    { title: t('topup.completeTime'), dataIndex: 'complete_time', key: 'complete', render: (v: number) => formatTime(v) || '-' },
  ];

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
      {methods.length > 0 ? (
        <Card title={t('topup.onlineTitle')} data-testid="topup-online">
          <Form layout="vertical" style={{ maxWidth: 520 }}>
            <Form.Item label={t('topup.amountUsd')} extra={t('topup.minAmount', { min: minTopUp })}>
              <InputNumber
                min={minTopUp}
                precision={0}
                value={amount}
                onChange={(v) => setAmount(v)}
                style={{ width: '100%' }}
                prefix="$"
                data-testid="topup-amount"
              />
            </Form.Item>
            <Form.Item label={t('topup.method')}>
              <Radio.Group value={method} onChange={(e) => setMethod(e.target.value)} optionType="button" buttonStyle="solid">
                {methods.map((m) => (
                  <Radio.Button key={m.type} value={m.type}>
                    <span data-testid={`topup-method-${m.type}`}>{m.name}</span>
                  </Radio.Button>
                ))}
              </Radio.Group>
            </Form.Item>
            {priceError && <Alert type="warning" showIcon title={priceError} style={{ marginBottom: 12 }} />}
            <Space align="center" wrap>
              <Button type="primary" loading={paying} disabled={!price} onClick={pay} data-testid="topup-pay">
                {t('topup.pay')}
              </Button>
              {price && (
                <Typography.Text data-testid="topup-price">
                  {t('topup.price', { price, quota: quota((amount ?? 0) * (Number(status.quota_per_unit) || 500000)) })}
                </Typography.Text>
              )}
            </Space>
          </Form>
        </Card>
      ) : (
        <Card>
          <Empty description={t('topup.noOnline')} />
        </Card>
      )}
      <Card
        title={t('topup.orders')}
        extra={<Button size="small" icon={<ReloadOutlined />} onClick={() => orders.reload()} aria-label={t('common.refresh')} />}
      >
        {orders.error && <Alert type="error" showIcon title={orders.error} style={{ marginBottom: 12 }} />}
        <Table<TopUpOrder>
          rowKey="trade_no"
          size="small"
          columns={columns}
          dataSource={orders.items}
          loading={orders.loading}
          pagination={false}
          scroll={{ x: 'max-content' }}
          onRow={(r) => ({ 'data-testid': `topup-row-${r.trade_no}` }) as React.HTMLAttributes<HTMLElement>}
        />
        <Pager page={orders.page} pageSize={orders.pageSize} total={orders.total} onChange={orders.onPageChange} />
      </Card>
    </Space>
  );
}

// Online top-up on the top-up page: amount, payment method, price preview, pay (a form
// posted to the provider), and the user's orders. Active while a payment plugin is loaded.
import { ReloadOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Empty, Form, InputNumber, Radio, Space, Tag, Typography, type TableColumnsType } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type TopUpOrder } from '../../api';
import { ListTable } from '../../components/ListPage';
import { useList } from '../../components/useList';
import { formatTime } from '../../lib/format';
import { useSession } from '../../session';
import { payAnswerOf, submitPayment } from './payment';

const ORDER_COLORS: Record<string, string> = { success: 'green', pending: 'gold', failed: 'red', expired: 'default' };

interface Quote {
  /** amount|method the price is for */
  for: string;
  price: string;
  error: string;
}

export default function OnlineTopUp() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { status, quota } = useSession();
  const methods = status.pay_methods ?? [];
  const minTopUp = Math.max(1, Number(status.min_topup) || 1);
  const [amount, setAmount] = useState<number | null>(minTopUp);
  const [picked, setPicked] = useState('');
  const method = methods.some((m) => m.type === picked) ? picked : (methods[0]?.type ?? '');
  const [quote, setQuote] = useState<Quote>({ for: '', price: '', error: '' });
  const [paying, setPaying] = useState(false);
  const orders = useList<TopUpOrder>('/api/user/topup/self');
  const priced = Boolean(method && amount && amount >= minTopUp);
  const key = `${amount}|${method}`;
  const price = priced && quote.for === key ? quote.price : '';
  const priceError = priced && quote.for === key ? quote.error : '';

  // Price preview, debounced while typing.
  useEffect(() => {
    if (!priced) return;
    let alive = true;
    const id = setTimeout(() => {
      api
        .post<string>('/api/user/amount', { amount, payment_method: method })
        .then((p) => alive && setQuote({ for: key, price: String(p), error: '' }))
        .catch((e) => alive && setQuote({ for: key, price: '', error: errorMessage(e) }));
    }, 300);
    return () => {
      alive = false;
      clearTimeout(id);
    };
  }, [priced, key, amount, method]);

  const pay = async () => {
    if (!amount || amount < minTopUp) {
      message.warning(t('payment.minAmount', { min: minTopUp }));
      return;
    }
    setPaying(true);
    try {
      submitPayment(payAnswerOf(await api.message('POST', '/api/user/pay', { amount, payment_method: method })));
    } catch (e) {
      message.error(errorMessage(e));
      setPaying(false);
    }
  };

  const columns: TableColumnsType<TopUpOrder> = [
    { title: t('payment.tradeNo'), dataIndex: 'trade_no', key: 'trade_no', render: (v: string) => <Typography.Text copyable>{v}</Typography.Text> },
    { title: t('payment.amount'), dataIndex: 'amount', key: 'amount', render: (v: number) => `$${v}` },
    { title: t('payment.money'), dataIndex: 'money', key: 'money', render: (v: number) => (Number(v) || 0).toFixed(2) },
    {
      title: t('payment.method'),
      dataIndex: 'payment_method',
      key: 'method',
      render: (v: string) => methods.find((m) => m.type === v)?.name ?? v,
    },
    {
      title: t('common.status'),
      dataIndex: 'status',
      key: 'status',
      render: (v: string) => <Tag color={ORDER_COLORS[String(v)] ?? 'default'}>{t(`payment.orderStatus.${v}`, { defaultValue: String(v) })}</Tag>,
    },
    { title: t('common.createdTime'), dataIndex: 'create_time', key: 'create', render: (v: number) => formatTime(v) },
    { title: t('payment.completeTime'), dataIndex: 'complete_time', key: 'complete', render: (v: number) => formatTime(v) || '-' },
  ];

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      {methods.length > 0 ? (
        <Card title={t('payment.onlineTitle')} data-testid="topup-online">
          <Form layout="vertical" style={{ maxWidth: 520 }}>
            <Form.Item label={t('payment.amountUsd')} extra={t('payment.minAmount', { min: minTopUp })}>
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
            <Form.Item label={t('payment.method')}>
              <Radio.Group value={method} onChange={(e) => setPicked(e.target.value)} optionType="button" buttonStyle="solid">
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
                {t('payment.pay')}
              </Button>
              {price && (
                <Typography.Text data-testid="topup-price">
                  {t('payment.price', { price, quota: quota((amount ?? 0) * (Number(status.quota_per_unit) || 500000)) })}
                </Typography.Text>
              )}
            </Space>
          </Form>
        </Card>
      ) : (
        <Card>
          <Empty description={t('payment.noOnline')} />
        </Card>
      )}
      <Card
        title={t('payment.orders')}
        extra={<Button size="small" icon={<ReloadOutlined />} onClick={() => orders.reload()} aria-label={t('common.refresh')} />}
      >
        <ListTable<TopUpOrder> testPrefix="topup" list={orders} columns={columns} rowKey={(r) => r.trade_no} size="small" />
      </Card>
    </Space>
  );
}

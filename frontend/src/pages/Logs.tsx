import { ClearOutlined, ReloadOutlined, SearchOutlined } from '@ant-design/icons';
import { Alert, App, Button, DatePicker, Form, Input, InputNumber, Modal, Select, Space, Tag, Tooltip, Typography, type TableColumnsType } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type LogEntry, type Query } from '../api';
import ListPage from '../components/ListPage';
import { StatusTag } from '../components/tags';
import { useList } from '../components/useList';
import { formatDuration, formatTime } from '../lib/format';
import { useSession } from '../session';

interface FilterValues {
  type?: number;
  range?: [Dayjs | null, Dayjs | null] | null;
  username?: string;
  token_name?: string;
  model_name?: string;
  channel?: number | null;
}

export function logFilters(v: FilterValues, admin: boolean): Query {
  const q: Query = {
    type: v.type || undefined,
    start_timestamp: v.range?.[0] ? v.range[0].unix() : undefined,
    end_timestamp: v.range?.[1] ? v.range[1].unix() : undefined,
    token_name: v.token_name,
    model_name: v.model_name,
  };
  if (admin) {
    q.username = v.username;
    q.channel = v.channel ?? undefined;
  }
  return q;
}

export default function Logs() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { isAdmin, quota } = useSession();
  const [form] = Form.useForm<FilterValues>();
  const [filters, setFilters] = useState<Query>({});
  const base = isAdmin ? '/api/log/' : '/api/log/self';
  const list = useList<LogEntry>(base, filters);
  const [stat, setStat] = useState<{ quota: number } | null>(null);
  const [statError, setStatError] = useState('');
  const [clearOpen, setClearOpen] = useState(false);
  const [clearBefore, setClearBefore] = useState<Dayjs | null>(dayjs().subtract(30, 'day'));
  const [clearing, setClearing] = useState(false);

  useEffect(() => {
    let alive = true;
    api
      .get<{ quota: number }>(isAdmin ? '/api/log/stat' : '/api/log/self/stat', filters)
      .then((s) => alive && (setStat(s), setStatError('')))
      .catch((e) => alive && setStatError(errorMessage(e)));
    return () => {
      alive = false;
    };
  }, [filters, isAdmin]);

  const apply = () => setFilters(logFilters(form.getFieldsValue(), isAdmin));

  const clearLogs = async () => {
    if (!clearBefore) return;
    setClearing(true);
    try {
      const n = await api.del<number>('/api/log/', { target_timestamp: clearBefore.unix() });
      message.success(t('log.cleared', { count: Number(n) || 0 }));
      setClearOpen(false);
      await list.reload();
    } catch (e) {
      message.error(errorMessage(e));
    } finally {
      setClearing(false);
    }
  };

  const columns: TableColumnsType<LogEntry> = [
    { title: t('log.time'), dataIndex: 'created_at', key: 'time', render: (v: number) => formatTime(v) },
    ...(isAdmin
      ? [
          { title: t('log.channel'), dataIndex: 'channel', key: 'channel', render: (c: number) => (c ? <Tag>{c}</Tag> : '') },
          { title: t('log.user'), dataIndex: 'username', key: 'user' },
        ]
      : []),
    { title: t('log.token'), dataIndex: 'token_name', key: 'token', render: (v: string) => (v ? <Tag color="blue">{v}</Tag> : '') },
    { title: t('log.type'), dataIndex: 'type', key: 'type', render: (v: number) => <StatusTag kind="log" value={v} t={t} /> },
    { title: t('log.model'), dataIndex: 'model_name', key: 'model', render: (v: string) => (v ? <Tag>{v}</Tag> : '') },
    { title: t('log.prompt'), dataIndex: 'prompt_tokens', key: 'prompt', render: (v: number) => v || '' },
    { title: t('log.completion'), dataIndex: 'completion_tokens', key: 'completion', render: (v: number) => v || '' },
    { title: t('common.quota'), dataIndex: 'quota', key: 'quota', render: (v: number) => (v ? quota(v) : '') },
    {
      title: t('log.elapsed'),
      dataIndex: 'elapsed_time',
      key: 'elapsed',
      render: (v: number, r) => (
        <Space size={4}>
          {formatDuration(v)}
          {r.is_stream && <Tag color="purple">{t('log.stream')}</Tag>}
        </Space>
      ),
    },
    {
      title: t('log.content'),
      dataIndex: 'content',
      key: 'content',
      render: (v: string, r) => (
        <Tooltip title={r.request_id ? `${v}\n${t('log.requestId')}: ${r.request_id}` : v}>
          <Typography.Text ellipsis style={{ maxWidth: 320 }}>
            {v}
          </Typography.Text>
        </Tooltip>
      ),
    },
  ];

  return (
    <ListPage<LogEntry>
      title={t('menu.log')}
      testPrefix="log"
      list={list}
      columns={columns}
      size="small"
      extra={
        <Typography.Text>
          {t('log.statQuota')}:{' '}
          <Typography.Text strong data-testid="log-stat-quota">
            {stat ? quota(stat.quota) : '-'}
          </Typography.Text>
        </Typography.Text>
      }
      notices={statError && <Alert type="warning" showIcon title={statError} style={{ marginBottom: 12 }} />}
      toolbar={
        <Form form={form} layout="inline" onFinish={apply} style={{ rowGap: 8, marginBottom: 16 }} data-testid="log-filters">
          <Form.Item name="type" label={t('log.type')}>
            <Select
              style={{ width: 120 }}
              allowClear
              placeholder={t('common.all')}
              options={[1, 2, 3, 4, 5].map((v) => ({ value: v, label: t(`status.log.${v}`) }))}
              data-testid="log-filter-type"
            />
          </Form.Item>
          <Form.Item name="range" label={t('log.range')}>
            <DatePicker.RangePicker showTime allowEmpty={[true, true]} data-testid="log-filter-range" />
          </Form.Item>
          {isAdmin && (
            <Form.Item name="username" label={t('log.user')}>
              <Input allowClear style={{ width: 140 }} data-testid="log-filter-username" />
            </Form.Item>
          )}
          <Form.Item name="token_name" label={t('log.token')}>
            <Input allowClear style={{ width: 140 }} data-testid="log-filter-token" />
          </Form.Item>
          <Form.Item name="model_name" label={t('log.model')}>
            <Input allowClear style={{ width: 160 }} data-testid="log-filter-model" />
          </Form.Item>
          {isAdmin && (
            <Form.Item name="channel" label={t('log.channel')}>
              <InputNumber min={1} precision={0} style={{ width: 100 }} data-testid="log-filter-channel" />
            </Form.Item>
          )}
          <Form.Item>
            <Space wrap>
              <Button type="primary" htmlType="submit" icon={<SearchOutlined />} data-testid="log-search">
                {t('common.search')}
              </Button>
              <Button
                onClick={() => {
                  form.resetFields();
                  setFilters({});
                }}
              >
                {t('common.reset')}
              </Button>
              <Button icon={<ReloadOutlined />} onClick={() => list.reload()} data-testid="log-refresh">
                {t('common.refresh')}
              </Button>
              {isAdmin && (
                <Button danger icon={<ClearOutlined />} onClick={() => setClearOpen(true)} data-testid="log-clear">
                  {t('log.clear')}
                </Button>
              )}
            </Space>
          </Form.Item>
        </Form>
      }
    >
      <Modal
        open={clearOpen}
        title={t('log.clear')}
        onCancel={() => setClearOpen(false)}
        onOk={clearLogs}
        okButtonProps={{ danger: true, disabled: !clearBefore, 'data-testid': 'log-clear-ok' }}
        confirmLoading={clearing}
      >
        <Typography.Paragraph>{t('log.clearHelp')}</Typography.Paragraph>
        <DatePicker showTime value={clearBefore} onChange={setClearBefore} data-testid="log-clear-before" />
      </Modal>
    </ListPage>
  );
}

import { DeleteOutlined, DollarOutlined, DownOutlined, EditOutlined, ExperimentOutlined } from '@ant-design/icons';
import { App, Button, Dropdown, InputNumber, Popconfirm, Space, Tag, Tooltip, type TableColumnsType } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type Channel } from '../api';
import ChannelForm from '../components/ChannelForm';
import ListPage from '../components/ListPage';
import { StatusTag } from '../components/tags';
import { useChannelMeta } from '../components/useChannelMeta';
import { useIsMobile } from '../components/useIsMobile';
import { useListPage } from '../components/useListPage';
import { findType, splitList } from '../lib/channelFields';
import { formatTime } from '../lib/format';
import { useSession } from '../session';

export function responseTimeColor(ms: number): string {
  if (!ms) return 'default';
  if (ms <= 1000) return 'green';
  if (ms <= 3000) return 'lime';
  if (ms <= 5000) return 'orange';
  return 'red';
}

function read<T>(env: unknown, key: string): T | undefined {
  const e = env as Record<string, unknown> & { data?: Record<string, unknown> };
  return (e?.[key] ?? (e?.data && typeof e.data === 'object' ? e.data[key] : undefined)) as T | undefined;
}

export default function Channels() {
  const { t } = useTranslation();
  const mobile = useIsMobile();
  const { message, notification } = App.useApp();
  const { quota } = useSession();
  const meta = useChannelMeta();
  const { list, search, editor } = useListPage<Channel>({ path: '/api/channel/', searchPath: '/api/channel/search' });
  const [busy, setBusy] = useState<string>('');

  const patchRow = (id: number, patch: Partial<Channel>) =>
    list.setItems((items) => items.map((c) => (c.id === id ? { ...c, ...patch } : c)));

  const run = async (tag: string, fn: () => Promise<void>) => {
    setBusy(tag);
    try {
      await fn();
    } catch (e) {
      message.error(errorMessage(e));
    } finally {
      setBusy('');
    }
  };

  const test = (c: Channel, model?: string) =>
    run(`test-${c.id}`, async () => {
      const env = await api.message('GET', `/api/channel/test/${c.id}`, undefined, model ? { model } : undefined);
      // `time` is in seconds, as in One API.
      const ms = Math.round((Number(read<number>(env, 'time')) || 0) * 1000);
      patchRow(c.id, { response_time: ms, test_time: Math.floor(Date.now() / 1000) });
      message.success(t('channel.testOk', { name: c.name, time: (ms / 1000).toFixed(2) }));
    });

  const updateBalance = (c: Channel) =>
    run(`balance-${c.id}`, async () => {
      const env = await api.message('GET', `/api/channel/update_balance/${c.id}`);
      const balance = Number(read<number>(env, 'balance')) || 0;
      patchRow(c.id, { balance, balance_updated_time: Math.floor(Date.now() / 1000) });
      message.success(t('channel.balanceOk', { name: c.name, balance: balance.toFixed(2) }));
    });

  const bulk = (tag: string, method: 'GET' | 'DELETE', path: string) =>
    run(tag, async () => {
      const env = await api.message(method, path);
      const data = env.data;
      notification.success({
        title: t(`channel.${tag}Done`),
        description: env.message || (typeof data === 'number' ? t('channel.affected', { count: data }) : undefined),
      });
      await list.reload();
    });

  const setStatus = (c: Channel, status: number) =>
    run(`status-${c.id}`, async () => {
      await api.put('/api/channel/', { id: c.id, status });
      patchRow(c.id, { status });
      message.success(t('common.done'));
    });

  const setPriority = (c: Channel, value: number | null) => {
    const priority = Number(value) || 0;
    if (priority === (c.priority ?? 0)) return;
    void run(`priority-${c.id}`, async () => {
      await api.put('/api/channel/', { id: c.id, priority });
      patchRow(c.id, { priority });
      message.success(t('common.saved'));
    });
  };

  const remove = (c: Channel) =>
    run(`delete-${c.id}`, async () => {
      await api.del(`/api/channel/${c.id}`);
      message.success(t('common.deleted'));
      await list.reload();
    });

  const columns: TableColumnsType<Channel> = [
    { title: t('common.id'), dataIndex: 'id', key: 'id', width: 64 },
    { title: t('common.name'), dataIndex: 'name', key: 'name', ellipsis: true },
    {
      title: t('channel.type'),
      dataIndex: 'type',
      key: 'type',
      render: (id: number) => {
        const tp = findType(meta.types, id);
        return tp ? tp.name : <Tooltip title={t('channel.unknownType')}><Tag color="red">#{id}</Tag></Tooltip>;
      },
    },
    { title: t('common.status'), dataIndex: 'status', key: 'status', render: (s: number) => <StatusTag kind="channel" value={s} t={t} /> },
    {
      title: t('channel.group'),
      dataIndex: 'group',
      key: 'group',
      render: (g: string) => (
        <Space size={2} wrap>
          {splitList(g).map((x) => (
            <Tag key={x}>{x}</Tag>
          ))}
        </Space>
      ),
    },
    {
      title: t('channel.priority'),
      dataIndex: 'priority',
      key: 'priority',
      render: (p: number, r) => (
        <InputNumber
          size="small"
          style={{ width: 72 }}
          precision={0}
          defaultValue={p ?? 0}
          key={`${r.id}-${p}`}
          onBlur={(e) => setPriority(r, Number(e.target.value))}
          onPressEnter={(e) => setPriority(r, Number((e.target as HTMLInputElement).value))}
          data-testid={`channel-priority-${r.id}`}
        />
      ),
    },
    { title: t('channel.weight'), dataIndex: 'weight', key: 'weight', render: (w: number) => w ?? 0 },
    {
      title: t('channel.responseTime'),
      dataIndex: 'response_time',
      key: 'response_time',
      render: (ms: number, r) => (
        <Tooltip title={r.test_time ? t('channel.testedAt', { time: formatTime(r.test_time) }) : t('channel.untested')}>
          <Tag color={responseTimeColor(ms)}>{ms ? `${(ms / 1000).toFixed(2)} s` : t('channel.untested')}</Tag>
        </Tooltip>
      ),
    },
    {
      title: t('channel.balance'),
      dataIndex: 'balance',
      key: 'balance',
      render: (b: number, r) => (
        <Tooltip title={t('channel.clickToUpdate')}>
          <Button size="small" type="link" loading={busy === `balance-${r.id}`} onClick={() => updateBalance(r)} data-testid={`channel-balance-${r.id}`}>
            ${(Number(b) || 0).toFixed(2)}
          </Button>
        </Tooltip>
      ),
    },
    { title: t('channel.usedQuota'), dataIndex: 'used_quota', key: 'used_quota', render: (q: number) => quota(q) },
    {
      title: t('common.actions'),
      key: 'actions',
      fixed: mobile ? undefined : 'right',
      render: (_: unknown, r) => {
        const models = splitList(r.models);
        return (
          <Space size={4} wrap>
            <Space.Compact size="small">
              <Button size="small" loading={busy === `test-${r.id}`} onClick={() => test(r)} data-testid={`channel-test-${r.id}`}>
                <ExperimentOutlined /> {t('channel.test')}
              </Button>
              <Dropdown
                trigger={['click']}
                disabled={!models.length}
                menu={{
                  items: models.slice(0, 50).map((m) => ({ key: m, label: m })),
                  onClick: ({ key }) => test(r, key),
                }}
              >
                <Button size="small" icon={<DownOutlined />} aria-label={t('channel.testModel')} data-testid={`channel-test-model-${r.id}`} />
              </Dropdown>
            </Space.Compact>
            {r.status === 1 ? (
              <Button size="small" onClick={() => setStatus(r, 2)} data-testid={`channel-toggle-${r.id}`}>
                {t('common.disable')}
              </Button>
            ) : (
              <Button size="small" onClick={() => setStatus(r, 1)} data-testid={`channel-toggle-${r.id}`}>
                {t('common.enable')}
              </Button>
            )}
            <Button
              size="small"
              icon={<EditOutlined />}
              onClick={() => editor.edit(r)}
              data-testid={`channel-edit-${r.id}`}
            >
              {t('common.edit')}
            </Button>
            <Popconfirm
              title={t('common.deleteConfirm', { name: r.name })}
              onConfirm={() => remove(r)}
              okButtonProps={{ danger: true, 'data-testid': 'confirm-ok' }}
            >
              <Button size="small" danger icon={<DeleteOutlined />} data-testid={`channel-delete-${r.id}`}>
                {t('common.delete')}
              </Button>
            </Popconfirm>
          </Space>
        );
      },
    },
  ];

  return (
    <ListPage<Channel>
      title={t('menu.channel')}
      testPrefix="channel"
      list={list}
      columns={columns}
      create={{ label: t('channel.create'), onClick: editor.create }}
      search={{ placeholder: t('channel.searchPlaceholder'), onSearch: search }}
      actions={
        <>
          <Popconfirm title={t('channel.testAllConfirm')} onConfirm={() => bulk('testAll', 'GET', '/api/channel/test')} okButtonProps={{ 'data-testid': 'confirm-ok' }}>
            <Button icon={<ExperimentOutlined />} loading={busy === 'testAll'} data-testid="channel-test-all">
              {t('channel.testAll')}
            </Button>
          </Popconfirm>
          <Button icon={<DollarOutlined />} loading={busy === 'balanceAll'} onClick={() => bulk('balanceAll', 'GET', '/api/channel/update_balance')} data-testid="channel-update-balance-all">
            {t('channel.updateAllBalances')}
          </Button>
          <Popconfirm
            title={t('channel.deleteDisabledConfirm')}
            onConfirm={() => bulk('deleteDisabled', 'DELETE', '/api/channel/disabled')}
            okButtonProps={{ danger: true, 'data-testid': 'confirm-ok' }}
          >
            <Button danger icon={<DeleteOutlined />} loading={busy === 'deleteDisabled'} data-testid="channel-delete-disabled">
              {t('channel.deleteDisabled')}
            </Button>
          </Popconfirm>
        </>
      }
    >
      <ChannelForm
        open={editor.open}
        channelId={editor.record?.id ?? null}
        meta={meta}
        onClose={editor.close}
        onSaved={() => {
          editor.close();
          void list.reload();
        }}
      />
    </ListPage>
  );
}

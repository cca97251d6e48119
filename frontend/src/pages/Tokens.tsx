import { ApiOutlined, CommentOutlined, CopyOutlined, DeleteOutlined, EditOutlined } from '@ant-design/icons';
import { Button, Modal, Popconfirm, Space, Typography, type TableColumnsType } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type Token } from '../api';
import ListPage from '../components/ListPage';
import { StatusTag } from '../components/tags';
import TokenForm from '../components/TokenForm';
import UseWithModal from '../components/UseWithModal';
import { useCopy } from '../components/useCopy';
import { useIsMobile } from '../components/useIsMobile';
import { useListPage } from '../components/useListPage';
import { formatTime, fullKey, maskKey } from '../lib/format';
import { useSession } from '../session';

export function chatUrl(chatLink: string, serverAddress: string, key: string): string {
  const settings = JSON.stringify({ key: fullKey(key), url: serverAddress });
  return `${chatLink}/#/?settings=${encodeURIComponent(settings)}`;
}

export default function Tokens() {
  const { t } = useTranslation();
  const mobile = useIsMobile();
  const { quota, status } = useSession();
  const copy = useCopy();
  const { list, search, editor, act } = useListPage<Token>({ path: '/api/token/', searchPath: '/api/token/search' });
  const [useWith, setUseWith] = useState<Token | null>(null);
  const [created, setCreated] = useState<Token | null>(null);

  const toggle = (tok: Token) =>
    act(() => api.put('/api/token/', { id: tok.id, status: tok.status === 1 ? 2 : 1 }, { status_only: true }));

  const remove = (tok: Token) => act(() => api.del(`/api/token/${tok.id}`), t('common.deleted'));

  const columns: TableColumnsType<Token> = [
    { title: t('common.name'), dataIndex: 'name', key: 'name', ellipsis: true },
    {
      title: t('common.status'),
      dataIndex: 'status',
      key: 'status',
      render: (s: number) => <StatusTag kind="token" value={s} t={t} />,
    },
    { title: t('token.usedQuota'), dataIndex: 'used_quota', key: 'used', render: (q: number) => quota(q) },
    {
      title: t('token.remainQuota'),
      key: 'remain',
      render: (_: unknown, r) => (r.unlimited_quota ? t('common.unlimited') : quota(r.remain_quota)),
    },
    {
      title: t('token.key'),
      dataIndex: 'key',
      key: 'key',
      render: (k: string) => <Typography.Text code>{maskKey(k)}</Typography.Text>,
    },
    { title: t('common.createdTime'), dataIndex: 'created_time', key: 'created', render: (v: number) => formatTime(v) },
    {
      title: t('token.expiredTime'),
      dataIndex: 'expired_time',
      key: 'expired',
      render: (v: number) => (v === -1 || !v ? t('common.never') : formatTime(v)),
    },
    {
      title: t('common.actions'),
      key: 'actions',
      fixed: mobile ? undefined : 'right',
      render: (_: unknown, r) => (
        <Space size={4} wrap>
          <Button size="small" icon={<CopyOutlined />} onClick={() => copy(fullKey(r.key))} data-testid={`token-copy-${r.id}`}>
            {t('common.copy')}
          </Button>
          <Button size="small" icon={<ApiOutlined />} onClick={() => setUseWith(r)} data-testid={`token-use-${r.id}`}>
            {t('token.useWithShort')}
          </Button>
          {status.chat_link && (
            <Button
              size="small"
              icon={<CommentOutlined />}
              onClick={() =>
                window.open(chatUrl(status.chat_link!, status.server_address || window.location.origin, r.key), '_blank', 'noopener')
              }
              data-testid={`token-chat-${r.id}`}
            >
              {t('menu.chat')}
            </Button>
          )}
          <Button size="small" onClick={() => toggle(r)} data-testid={`token-toggle-${r.id}`}>
            {r.status === 1 ? t('common.disable') : t('common.enable')}
          </Button>
          <Button
            size="small"
            icon={<EditOutlined />}
            onClick={() => editor.edit(r)}
            data-testid={`token-edit-${r.id}`}
          >
            {t('common.edit')}
          </Button>
          <Popconfirm
            title={t('common.deleteConfirm', { name: r.name })}
            onConfirm={() => remove(r)}
            okButtonProps={{ danger: true, 'data-testid': 'confirm-ok' }}
          >
            <Button size="small" danger icon={<DeleteOutlined />} data-testid={`token-delete-${r.id}`}>
              {t('common.delete')}
            </Button>
          </Popconfirm>
        </Space>
      ),
    },
  ];

  return (
    <ListPage<Token>
      title={t('menu.token')}
      testPrefix="token"
      list={list}
      columns={columns}
      create={{ label: t('token.create'), onClick: editor.create }}
      search={{ placeholder: t('token.searchPlaceholder'), onSearch: search }}
    >
      <TokenForm
        open={editor.open}
        token={editor.record}
        onClose={editor.close}
        onSaved={(tok) => {
          editor.close();
          if (tok?.key) setCreated(tok);
          void list.reload();
        }}
      />
      <UseWithModal token={useWith} onClose={() => setUseWith(null)} />
      <Modal
        open={Boolean(created)}
        title={t('token.created')}
        onCancel={() => setCreated(null)}
        footer={
          <Button type="primary" onClick={() => created && copy(fullKey(created.key))} data-testid="token-created-copy">
            {t('common.copy')}
          </Button>
        }
      >
        <Typography.Paragraph>{t('token.createdHelp')}</Typography.Paragraph>
        <Typography.Text code copyable data-testid="token-created-key" style={{ wordBreak: 'break-all' }}>
          {created ? fullKey(created.key) : ''}
        </Typography.Text>
        <div style={{ marginTop: 12 }}>
          <Button type="link" style={{ padding: 0 }} onClick={() => { setUseWith(created); setCreated(null); }}>
            {t('token.useWithShort')}
          </Button>
        </div>
      </Modal>
    </ListPage>
  );
}

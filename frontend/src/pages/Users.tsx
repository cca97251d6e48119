import { DeleteOutlined, DollarOutlined, EditOutlined, MoreOutlined } from '@ant-design/icons';
import { App, Button, Dropdown, Popconfirm, Space, Tag, Tooltip, Typography, type TableColumnsType } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ROLE_ADMIN, ROLE_ROOT, type User } from '../api';
import ListPage from '../components/ListPage';
import { StatusTag } from '../components/tags';
import UserForm from '../components/UserForm';
import UserTopUpModal from '../components/UserTopUpModal';
import { useIsMobile } from '../components/useIsMobile';
import { useListPage } from '../components/useListPage';
import { formatNumber } from '../lib/format';
import { useSession } from '../session';

type ManageAction = 'disable' | 'enable' | 'delete' | 'promote' | 'demote';

export default function Users() {
  const { t } = useTranslation();
  const mobile = useIsMobile();
  const { modal } = App.useApp();
  const { quota, user: me, isRoot } = useSession();
  const { list, search, editor, act } = useListPage<User>({ path: '/api/user/', searchPath: '/api/user/search' });
  const [groups, setGroups] = useState<string[]>([]);
  const [topUpUser, setTopUpUser] = useState<User | null>(null);

  useEffect(() => {
    api
      .get<string[]>('/api/group/')
      .then((g) => setGroups(Array.isArray(g) ? g : []))
      .catch(() => setGroups([]));
  }, []);

  const manage = (u: User, action: ManageAction) => act(() => api.post('/api/user/manage', { username: u.username, action }));

  const remove = (u: User) => act(() => api.del(`/api/user/${u.id}`), t('common.deleted'));

  const confirmThen = (title: string, fn: () => void, danger = false) =>
    modal.confirm({ title, onOk: fn, okButtonProps: { danger, 'data-testid': 'confirm-ok' } });

  /** An admin manages plain users; root manages everyone but itself. */
  const canManage = (u: User) => u.id !== me?.id && (isRoot || u.role < ROLE_ADMIN);

  const columns: TableColumnsType<User> = [
    { title: t('common.id'), dataIndex: 'id', key: 'id', width: 64 },
    {
      title: t('login.username'),
      dataIndex: 'username',
      key: 'username',
      render: (name: string, r) => (
        <Tooltip title={r.email || undefined}>
          <span>
            {name}
            {r.display_name && r.display_name !== name && <Typography.Text type="secondary"> ({r.display_name})</Typography.Text>}
          </span>
        </Tooltip>
      ),
    },
    { title: t('user.group'), dataIndex: 'group', key: 'group', render: (g: string) => <Tag>{g || 'default'}</Tag> },
    {
      title: t('user.stats'),
      key: 'stats',
      render: (_: unknown, r) => (
        <Space size={2} wrap>
          <Tooltip title={t('user.remaining')}>
            <Tag color="green">{quota(r.quota)}</Tag>
          </Tooltip>
          <Tooltip title={t('user.used')}>
            <Tag color="orange">{quota(r.used_quota)}</Tag>
          </Tooltip>
          <Tooltip title={t('user.requests')}>
            <Tag color="blue">{formatNumber(r.request_count)}</Tag>
          </Tooltip>
        </Space>
      ),
    },
    { title: t('user.role'), dataIndex: 'role', key: 'role', render: (v: number) => <StatusTag kind="role" value={v} t={t} /> },
    { title: t('common.status'), dataIndex: 'status', key: 'status', render: (v: number) => <StatusTag kind="user" value={v} t={t} /> },
    {
      title: t('common.actions'),
      key: 'actions',
      fixed: mobile ? undefined : 'right',
      render: (_: unknown, r) => {
        const manageable = canManage(r);
        const items = [
          ...(isRoot && r.role < ROLE_ADMIN ? [{ key: 'promote', label: <span data-testid={`user-promote-${r.id}`}>{t('user.promote')}</span> }] : []),
          ...(isRoot && r.role >= ROLE_ADMIN && r.role < ROLE_ROOT ? [{ key: 'demote', label: <span data-testid={`user-demote-${r.id}`}>{t('user.demote')}</span> }] : []),
          r.status === 1
            ? { key: 'disable', label: <span data-testid={`user-disable-${r.id}`}>{t('common.disable')}</span> }
            : { key: 'enable', label: <span data-testid={`user-enable-${r.id}`}>{t('common.enable')}</span> },
        ];
        return (
          <Space size={4} wrap>
            <Button
              size="small"
              icon={<EditOutlined />}
              onClick={() => editor.edit(r)}
              disabled={!manageable && r.id !== me?.id}
              data-testid={`user-edit-${r.id}`}
            >
              {t('common.edit')}
            </Button>
            <Button
              size="small"
              icon={<DollarOutlined />}
              onClick={() => setTopUpUser(r)}
              data-testid={`user-topup-${r.id}`}
            >
              {t('user.topUp')}
            </Button>
            <Dropdown
              trigger={['click']}
              disabled={!manageable}
              menu={{
                items,
                onClick: ({ key }) => {
                  const action = key as ManageAction;
                  if (action === 'enable' || action === 'promote') void manage(r, action);
                  else confirmThen(t(`user.confirm.${action}`, { name: r.username }), () => manage(r, action), action === 'disable');
                },
              }}
            >
              <Button size="small" icon={<MoreOutlined />} data-testid={`user-more-${r.id}`} />
            </Dropdown>
            <Popconfirm
              title={t('common.deleteConfirm', { name: r.username })}
              onConfirm={() => remove(r)}
              disabled={!manageable}
              okButtonProps={{ danger: true, 'data-testid': 'confirm-ok' }}
            >
              <Button size="small" danger icon={<DeleteOutlined />} disabled={!manageable} data-testid={`user-delete-${r.id}`}>
                {t('common.delete')}
              </Button>
            </Popconfirm>
          </Space>
        );
      },
    },
  ];

  return (
    <ListPage<User>
      title={t('menu.user')}
      testPrefix="user"
      list={list}
      columns={columns}
      create={{ label: t('user.create'), onClick: editor.create }}
      search={{ placeholder: t('user.searchPlaceholder'), onSearch: search }}
    >
      <UserForm
        open={editor.open}
        user={editor.record}
        groups={groups}
        onClose={editor.close}
        onSaved={() => {
          editor.close();
          void list.reload();
        }}
      />
      {topUpUser && (
        <UserTopUpModal
          user={topUpUser}
          onClose={() => setTopUpUser(null)}
          onDone={() => {
            setTopUpUser(null);
            void list.reload();
          }}
        />
      )}
    </ListPage>
  );
}

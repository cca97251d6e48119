import { CopyOutlined, DeleteOutlined, EditOutlined } from '@ant-design/icons';
import { Alert, App, Button, Form, Input, InputNumber, Modal, Popconfirm, Space, Typography, type TableColumnsType } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type Redemption } from '../api';
import ListPage from '../components/ListPage';
import { StatusTag } from '../components/tags';
import { useCopy } from '../components/useCopy';
import { useIsMobile } from '../components/useIsMobile';
import { useListPage } from '../components/useListPage';
import { formatTime } from '../lib/format';
import { useSession } from '../session';

interface Values {
  name: string;
  quota: number;
  count: number;
}

export default function Redemptions() {
  const { t } = useTranslation();
  const mobile = useIsMobile();
  const { message } = App.useApp();
  const { quota, display } = useSession();
  const copy = useCopy();
  const { list, search, editor, act } = useListPage<Redemption>({ path: '/api/redemption/', searchPath: '/api/redemption/search' });
  const editing = editor.record;
  const [form] = Form.useForm<Values>();
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState('');
  const [keys, setKeys] = useState<string[]>([]);
  const q = Form.useWatch('quota', form);

  const openForm = (r: Redemption | null) => {
    setError('');
    form.resetFields();
    form.setFieldsValue(r ? { name: r.name, quota: r.quota, count: 1 } : { name: '', quota: 500000, count: 1 });
    if (r) editor.edit(r);
    else editor.create();
  };

  const onFinish = async (v: Values) => {
    setSaving(true);
    setError('');
    try {
      if (editing) {
        await api.put('/api/redemption/', { id: editing.id, name: v.name.trim(), quota: Math.floor(v.quota) });
        message.success(t('common.saved'));
      } else {
        const created = await api.post<string[]>('/api/redemption/', { name: v.name.trim(), quota: Math.floor(v.quota), count: v.count });
        setKeys(Array.isArray(created) ? created : []);
      }
      editor.close();
      await list.reload();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };

  const columns: TableColumnsType<Redemption> = [
    { title: t('common.id'), dataIndex: 'id', key: 'id', width: 64 },
    { title: t('common.name'), dataIndex: 'name', key: 'name' },
    { title: t('common.status'), dataIndex: 'status', key: 'status', render: (v: number) => <StatusTag kind="redemption" value={v} t={t} /> },
    { title: t('common.quota'), dataIndex: 'quota', key: 'quota', render: (v: number) => quota(v) },
    { title: t('common.createdTime'), dataIndex: 'created_time', key: 'created', render: (v: number) => formatTime(v) },
    { title: t('redemption.redeemedTime'), dataIndex: 'redeemed_time', key: 'redeemed', render: (v: number) => formatTime(v) || '-' },
    {
      title: t('common.actions'),
      key: 'actions',
      fixed: mobile ? undefined : 'right',
      render: (_: unknown, r) => (
        <Space size={4} wrap>
          <Button size="small" icon={<CopyOutlined />} onClick={() => copy(r.key)} data-testid={`redemption-copy-${r.id}`}>
            {t('common.copy')}
          </Button>
          {r.status !== 3 && (
            <Button
              size="small"
              onClick={() =>
                act(() => api.put('/api/redemption/', { id: r.id, status: r.status === 1 ? 2 : 1 }, { status_only: true }), t('common.done'))
              }
              data-testid={`redemption-toggle-${r.id}`}
            >
              {r.status === 1 ? t('common.disable') : t('common.enable')}
            </Button>
          )}
          <Button size="small" icon={<EditOutlined />} disabled={r.status === 3} onClick={() => openForm(r)} data-testid={`redemption-edit-${r.id}`}>
            {t('common.edit')}
          </Button>
          <Popconfirm
            title={t('common.deleteConfirm', { name: r.name })}
            onConfirm={() => act(() => api.del(`/api/redemption/${r.id}`), t('common.deleted'))}
            okButtonProps={{ danger: true, 'data-testid': 'confirm-ok' }}
          >
            <Button size="small" danger icon={<DeleteOutlined />} data-testid={`redemption-delete-${r.id}`}>
              {t('common.delete')}
            </Button>
          </Popconfirm>
        </Space>
      ),
    },
  ];

  return (
    <ListPage<Redemption>
      title={t('menu.redemption')}
      testPrefix="redemption"
      list={list}
      columns={columns}
      create={{ label: t('redemption.create'), onClick: () => openForm(null) }}
      search={{ placeholder: t('redemption.searchPlaceholder'), onSearch: search }}
    >
      <Modal
        open={editor.open}
        forceRender
        title={editing ? t('redemption.editTitle') : t('redemption.createTitle')}
        onCancel={editor.close}
        onOk={() => form.submit()}
        confirmLoading={saving}
        okButtonProps={{ 'data-testid': 'redemption-form-submit' }}
      >
        {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 12 }} />}
        <Form form={form} layout="vertical" onFinish={onFinish} data-testid="redemption-form">
          <Form.Item
            name="name"
            label={t('common.name')}
            rules={[
              { required: true, whitespace: true, message: t('form.required', { field: t('common.name') }) },
              { max: 20, message: t('form.maxLength', { count: 20 }) },
            ]}
          >
            <Input data-testid="redemption-form-name" />
          </Form.Item>
          <Form.Item
            name="quota"
            label={t('common.quota')}
            extra={display.displayInCurrency ? t('token.quotaEquals', { value: quota(q ?? 0) }) : undefined}
            rules={[{ required: true, type: 'number', min: 1, message: t('redemption.quotaPositive') }]}
          >
            <InputNumber min={1} precision={0} step={500000} style={{ width: '100%' }} data-testid="redemption-form-quota" />
          </Form.Item>
          {!editing && (
            <Form.Item
              name="count"
              label={t('redemption.count')}
              rules={[{ required: true, type: 'number', min: 1, max: 100, message: t('redemption.countRange') }]}
            >
              <InputNumber min={1} max={100} precision={0} style={{ width: '100%' }} data-testid="redemption-form-count" />
            </Form.Item>
          )}
        </Form>
      </Modal>
      <Modal
        open={keys.length > 0}
        title={t('redemption.createdTitle', { count: keys.length })}
        onCancel={() => setKeys([])}
        footer={[
          <Button key="close" onClick={() => setKeys([])}>
            {t('common.close')}
          </Button>,
          <Button key="copy" type="primary" icon={<CopyOutlined />} onClick={() => copy(keys.join('\n'))} data-testid="redemption-keys-copy">
            {t('redemption.copyAll')}
          </Button>,
        ]}
      >
        <Typography.Paragraph type="secondary">{t('redemption.createdHelp')}</Typography.Paragraph>
        <pre data-testid="redemption-keys" style={{ background: '#f6f8fa', padding: 12, borderRadius: 6, maxHeight: 320, overflow: 'auto' }}>
          {keys.join('\n')}
        </pre>
      </Modal>
    </ListPage>
  );
}

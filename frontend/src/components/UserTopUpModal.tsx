// Admin top-up of one user's quota (POST /api/topup). Mounted only while open.
import { App, Form, Input, InputNumber, Modal } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type User } from '../api';
import { useSession } from '../session';

export default function UserTopUpModal({ user, onClose, onDone }: { user: User; onClose: () => void; onDone: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { quota, display } = useSession();
  const [form] = Form.useForm<{ quota: number; remark: string }>();
  const [saving, setSaving] = useState(false);
  const amount = Form.useWatch('quota', form);

  const submit = async () => {
    const v = await form.validateFields();
    setSaving(true);
    try {
      await api.post('/api/topup', { user_id: user.id, quota: Math.floor(Number(v.quota)), remark: v.remark ?? '' });
      message.success(t('user.topUpDone'));
      onDone();
    } catch (e) {
      message.error(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Modal
      open
      title={t('user.topUpTitle', { name: user.username })}
      onCancel={onClose}
      onOk={submit}
      confirmLoading={saving}
      okButtonProps={{ 'data-testid': 'user-topup-submit' }}
    >
      <Form form={form} layout="vertical">
        <Form.Item
          name="quota"
          label={t('user.topUpQuota')}
          extra={display.displayInCurrency ? t('token.quotaEquals', { value: quota(amount ?? 0) }) : t('user.topUpNegative')}
          rules={[
            { required: true, message: t('form.required', { field: t('user.topUpQuota') }) },
            {
              validator: async (_r, v) => {
                if (Number(v) === 0) throw new Error(t('user.topUpZero'));
              },
            },
          ]}
        >
          <InputNumber precision={0} step={500000} style={{ width: '100%' }} data-testid="user-topup-quota" />
        </Form.Item>
        <Form.Item name="remark" label={t('user.remark')}>
          <Input data-testid="user-topup-remark" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

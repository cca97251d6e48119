// WeChat sign-in or binding through One API's WeChat server: the user follows the official
// account (QR code from /api/status), sends it "验证码" and types the code it answers here.
import { Form, Image, Input, Modal, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { errorMessage } from '../api';

export default function WeChatCodeModal({
  open,
  qrcode,
  onClose,
  onCode,
}: {
  open: boolean;
  qrcode?: string;
  onClose: () => void;
  /** Sign in or bind with the code; a thrown error is shown in the dialog. */
  onCode: (code: string) => Promise<void>;
}) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ code: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const submit = async () => {
    const { code } = await form.validateFields();
    setBusy(true);
    setError('');
    try {
      await onCode(code.trim());
      form.resetFields();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={open}
      title={t('wechat.title')}
      okText={t('wechat.submit')}
      onOk={submit}
      confirmLoading={busy}
      onCancel={onClose}
      destroyOnHidden
      okButtonProps={{ 'data-testid': 'wechat-submit' }}
    >
      {qrcode && (
        <div style={{ textAlign: 'center', marginBottom: 12 }}>
          <Image src={qrcode} alt="WeChat QR code" width={200} preview={false} data-testid="wechat-qrcode" />
        </div>
      )}
      <Typography.Paragraph type="secondary">{t('wechat.help')}</Typography.Paragraph>
      <Form form={form} layout="vertical" onFinish={submit}>
        <Form.Item
          name="code"
          label={t('wechat.code')}
          rules={[{ required: true, whitespace: true, message: t('wechat.codeRequired') }]}
          validateStatus={error ? 'error' : undefined}
          help={error || undefined}
        >
          <Input autoFocus maxLength={64} data-testid="wechat-code" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

// How to call the gateway with a token: base URL, key and examples.
import { CopyOutlined } from '@ant-design/icons';
import { Button, Descriptions, Modal, Tabs, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Token } from '../api';
import { buildSnippets, exampleModel } from '../lib/snippets';
import { useAvailableModels } from './useModels';
import { useCopy } from './useCopy';

function Code({ text, testId }: { text: string; testId: string }) {
  const copy = useCopy();
  return (
    <div style={{ position: 'relative' }}>
      <pre
        data-testid={testId}
        style={{ background: '#f6f8fa', padding: 12, borderRadius: 6, overflowX: 'auto', fontSize: 12, margin: 0 }}
      >
        {text}
      </pre>
      <Button size="small" icon={<CopyOutlined />} style={{ position: 'absolute', top: 6, right: 6 }} onClick={() => copy(text)} />
    </div>
  );
}

export default function UseWithModal({ token, onClose }: { token: Token | null; onClose: () => void }) {
  const { t } = useTranslation();
  const available = useAvailableModels(Boolean(token));
  if (!token) return null;
  const s = buildSnippets(window.location.origin, token.key, exampleModel(token.models, available));
  return (
    <Modal open title={t('token.useWith', { name: token.name })} onCancel={onClose} footer={null} width={720} data-testid="use-with-modal">
      <Descriptions
        column={1}
        size="small"
        bordered
        items={[
          {
            key: 'base',
            label: t('token.baseUrl'),
            children: (
              <Typography.Text copyable code data-testid="use-with-base-url">
                {s.baseUrl}
              </Typography.Text>
            ),
          },
          {
            key: 'key',
            label: t('token.key'),
            children: (
              <Typography.Text copyable code data-testid="use-with-key" style={{ wordBreak: 'break-all' }}>
                {s.key}
              </Typography.Text>
            ),
          },
        ]}
      />
      <Tabs
        style={{ marginTop: 12 }}
        items={[
          { key: 'curl', label: 'curl', children: <Code text={s.curl} testId="use-with-curl" /> },
          { key: 'python', label: 'Python', children: <Code text={s.python} testId="use-with-python" /> },
          { key: 'env', label: t('token.envVars'), children: <Code text={s.env} testId="use-with-env" /> },
        ]}
      />
    </Modal>
  );
}

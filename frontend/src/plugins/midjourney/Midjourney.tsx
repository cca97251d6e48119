// The drawing tasks of the Midjourney plugin (GET /api/mj/, /api/mj/self) as a gallery.
import { PictureOutlined, ReloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Empty, Image, Progress, Row, Segmented, Space, Spin, Tag, Tooltip, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import Pager from '../../components/Pager';
import SearchBox from '../../components/SearchBox';
import { useList } from '../../components/useList';
import { formatTime } from '../../lib/format';
import { mjProgressStatus, mjStatusColor, parseProgress, type MjTask } from './mj';
import { useSession } from '../../session';

function TaskCard({ task, showAdmin }: { task: MjTask; showAdmin: boolean }) {
  const { t } = useTranslation();
  const { quota } = useSession();
  const percent = parseProgress(task.progress);
  return (
    <Card
      size="small"
      data-testid={`mj-card-${task.id}`}
      cover={
        task.image_url ? (
          <Image src={task.image_url} alt={task.prompt} height={220} style={{ objectFit: 'cover' }} />
        ) : (
          <div style={{ height: 220, display: 'flex', alignItems: 'center', justifyContent: 'center', background: '#fafafa', color: '#bfbfbf', fontSize: 48 }}>
            <PictureOutlined />
          </div>
        )
      }
    >
      <Space size={4} wrap style={{ marginBottom: 8 }}>
        <Tag color="geekblue">{task.action || '-'}</Tag>
        <Tag color={mjStatusColor(task.status)}>{t(`mj.status.${(task.status || 'UNKNOWN').toUpperCase()}`, { defaultValue: task.status || '-' })}</Tag>
        {showAdmin && task.channel_id ? <Tag>{t('log.channel')} {task.channel_id}</Tag> : null}
      </Space>
      <Progress percent={percent} size="small" status={mjProgressStatus(task.status)} />
      <Typography.Paragraph ellipsis={{ rows: 3, expandable: true, symbol: t('common.more') }} style={{ marginTop: 8, marginBottom: 8 }}>
        {task.prompt || <Typography.Text type="secondary">{t('mj.noPrompt')}</Typography.Text>}
      </Typography.Paragraph>
      {task.fail_reason && (
        <Typography.Paragraph type="danger" style={{ marginBottom: 8 }}>
          {task.fail_reason}
        </Typography.Paragraph>
      )}
      <Typography.Text type="secondary" style={{ fontSize: 12, display: 'block' }}>
        <Tooltip title={t('mj.taskId')}>
          <Typography.Text copyable={{ text: task.mj_id }} type="secondary" style={{ fontSize: 12 }}>
            {task.mj_id}
          </Typography.Text>
        </Tooltip>
      </Typography.Text>
      <Typography.Text type="secondary" style={{ fontSize: 12, display: 'block' }}>
        {t('mj.submitted')}: {formatTime(task.submit_time) || '-'}
      </Typography.Text>
      {task.finish_time ? (
        <Typography.Text type="secondary" style={{ fontSize: 12, display: 'block' }}>
          {t('mj.finished')}: {formatTime(task.finish_time)}
        </Typography.Text>
      ) : null}
      {task.quota ? (
        <Typography.Text type="secondary" style={{ fontSize: 12, display: 'block' }}>
          {t('common.quota')}: {quota(task.quota)}
        </Typography.Text>
      ) : null}
    </Card>
  );
}

export default function Midjourney() {
  const { t } = useTranslation();
  const { isAdmin } = useSession();
  const [scope, setScope] = useState<'self' | 'all'>(isAdmin ? 'all' : 'self');
  const [mjId, setMjId] = useState('');
  const all = isAdmin && scope === 'all';
  const list = useList<MjTask>(all ? '/api/mj/' : '/api/mj/self', mjId ? { mj_id: mjId } : {});

  return (
    <Card
      title={t('menu.midjourney')}
      extra={
        <Space wrap>
          {isAdmin && (
            <Segmented<'self' | 'all'>
              value={scope}
              onChange={setScope}
              options={[
                { value: 'all', label: t('mj.allUsers') },
                { value: 'self', label: t('mj.mine') },
              ]}
              data-testid="mj-scope"
            />
          )}
          <SearchBox placeholder={t('mj.taskId')} onSearch={setMjId} testId="mj-search" width={220} />
          <Button icon={<ReloadOutlined />} onClick={() => list.reload()} data-testid="mj-refresh">
            {t('common.refresh')}
          </Button>
        </Space>
      }
    >
      {list.error && <Alert type="error" showIcon title={list.error} style={{ marginBottom: 12 }} />}
      <Spin spinning={list.loading}>
        {list.items.length === 0 ? (
          <Empty description={t('mj.empty')} style={{ padding: 32 }} />
        ) : (
          <Image.PreviewGroup>
            <Row gutter={[16, 16]} data-testid="mj-gallery">
              {list.items.map((task) => (
                <Col key={task.id} xs={24} sm={12} md={8} xl={6}>
                  <TaskCard task={task} showAdmin={all} />
                </Col>
              ))}
            </Row>
          </Image.PreviewGroup>
        )}
      </Spin>
      <Pager page={list.page} pageSize={list.pageSize} total={list.total} onChange={list.onPageChange} />
    </Card>
  );
}

import { ReloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Empty, Row, Segmented, Spin, Statistic } from 'antd';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  Legend,
  Line,
  LineChart,
  Pie,
  PieChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { api, errorMessage } from '../api';
import { byDay, byModel, stackedByDay, type DashboardRow } from '../lib/dashboard';
import { formatNumber } from '../lib/format';
import { useSession } from '../session';

const COLORS = ['#1677ff', '#52c41a', '#faad14', '#eb2f96', '#722ed1', '#13c2c2', '#fa541c', '#2f54eb', '#a0d911', '#fadb14'];

type Metric = 'quota' | 'requests' | 'tokens';

export default function Dashboard() {
  const { t } = useTranslation();
  const { user, refreshUser, quota } = useSession();
  const [rows, setRows] = useState<DashboardRow[] | null>(null);
  const [error, setError] = useState('');
  const [metric, setMetric] = useState<Metric>('quota');

  const load = useCallback(() => {
    void refreshUser();
    api
      .get<DashboardRow[]>('/api/user/dashboard')
      .then((d) => {
        setRows(Array.isArray(d) ? d : []);
        setError('');
      })
      .catch((e) => {
        setError(errorMessage(e));
        setRows([]);
      });
  }, [refreshUser]);

  useEffect(load, [load]);

  const days = useMemo(() => byDay(rows ?? []), [rows]);
  const models = useMemo(() => byModel(rows ?? []), [rows]);
  const stacked = useMemo(() => stackedByDay(rows ?? []), [rows]);
  const fmt = (v: number) => (metric === 'quota' ? quota(v) : formatNumber(v));
  const periodQuota = days.reduce((s, d) => s + d.quota, 0);
  const periodRequests = days.reduce((s, d) => s + d.requests, 0);

  return (
    <div data-testid="dashboard">
      <Row gutter={[16, 16]}>
        <Col xs={12} md={6}>
          <Card size="small">
            <Statistic title={t('dashboard.balance')} value={quota(user?.quota)} data-testid="dashboard-balance" />
          </Card>
        </Col>
        <Col xs={12} md={6}>
          <Card size="small">
            <Statistic title={t('dashboard.used')} value={quota(user?.used_quota)} data-testid="dashboard-used" />
          </Card>
        </Col>
        <Col xs={12} md={6}>
          <Card size="small">
            <Statistic title={t('dashboard.requests')} value={formatNumber(user?.request_count)} data-testid="dashboard-requests" />
          </Card>
        </Col>
        <Col xs={12} md={6}>
          <Card size="small">
            <Statistic
              title={t('dashboard.period')}
              value={quota(periodQuota)}
              suffix={<span style={{ fontSize: 12 }}>/ {t('dashboard.requestCount', { count: periodRequests })}</span>}
            />
          </Card>
        </Col>
      </Row>
      {error && <Alert type="error" showIcon title={error} style={{ marginTop: 16 }} />}
      <Card
        style={{ marginTop: 16 }}
        title={t('dashboard.byDay')}
        extra={
          <span style={{ display: 'flex', gap: 8 }}>
            <Segmented<Metric>
              size="small"
              value={metric}
              onChange={setMetric}
              options={[
                { value: 'quota', label: t('common.quota') },
                { value: 'requests', label: t('dashboard.requestsShort') },
                { value: 'tokens', label: 'Tokens' },
              ]}
              data-testid="dashboard-metric"
            />
            <Button size="small" icon={<ReloadOutlined />} onClick={load} aria-label={t('common.refresh')} />
          </span>
        }
      >
        {rows === null ? (
          <Spin style={{ display: 'block', margin: 48 }} />
        ) : !rows.length ? (
          <Empty description={t('dashboard.noData')} />
        ) : (
          <div style={{ width: '100%', height: 320 }} data-testid="chart-by-day">
            <ResponsiveContainer>
              {metric === 'quota' ? (
                <BarChart data={stacked.data} margin={{ left: 8, right: 8 }}>
                  <CartesianGrid strokeDasharray="3 3" vertical={false} />
                  <XAxis dataKey="day" />
                  <YAxis tickFormatter={(v: number) => quota(v, 2)} width={80} />
                  <Tooltip formatter={(v) => quota(Number(v))} />
                  <Legend />
                  {stacked.models.map((m, i) => (
                    <Bar key={m} dataKey={m} stackId="q" fill={COLORS[i % COLORS.length]} />
                  ))}
                </BarChart>
              ) : (
                <LineChart data={days} margin={{ left: 8, right: 8 }}>
                  <CartesianGrid strokeDasharray="3 3" vertical={false} />
                  <XAxis dataKey="day" />
                  <YAxis tickFormatter={(v: number) => formatNumber(v)} width={80} />
                  <Tooltip formatter={(v) => formatNumber(Number(v))} />
                  <Line type="monotone" dataKey={metric} stroke={COLORS[0]} strokeWidth={2} name={metric === 'requests' ? t('dashboard.requestsShort') : 'Tokens'} />
                </LineChart>
              )}
            </ResponsiveContainer>
          </div>
        )}
      </Card>
      <Card style={{ marginTop: 16 }} title={t('dashboard.byModel')}>
        {!models.length ? (
          <Empty description={t('dashboard.noData')} />
        ) : (
          <Row gutter={16}>
            <Col xs={24} md={10}>
              <div style={{ width: '100%', height: 280 }} data-testid="chart-by-model">
                <ResponsiveContainer>
                  <PieChart>
                    <Pie data={models} dataKey={metric} nameKey="model" outerRadius="80%" innerRadius="45%">
                      {models.map((m, i) => (
                        <Cell key={m.model} fill={COLORS[i % COLORS.length]} />
                      ))}
                    </Pie>
                    <Tooltip formatter={(v) => fmt(Number(v))} />
                  </PieChart>
                </ResponsiveContainer>
              </div>
            </Col>
            <Col xs={24} md={14}>
              <div style={{ width: '100%', height: Math.max(200, models.length * 32) }}>
                <ResponsiveContainer>
                  <BarChart data={models} layout="vertical" margin={{ left: 16, right: 16 }}>
                    <CartesianGrid strokeDasharray="3 3" horizontal={false} />
                    <XAxis type="number" tickFormatter={(v: number) => (metric === 'quota' ? quota(v, 2) : formatNumber(v))} />
                    <YAxis type="category" dataKey="model" width={140} />
                    <Tooltip formatter={(v) => fmt(Number(v))} />
                    <Bar dataKey={metric} name={metric === 'quota' ? t('common.quota') : metric === 'requests' ? t('dashboard.requestsShort') : 'Tokens'}>
                      {models.map((m, i) => (
                        <Cell key={m.model} fill={COLORS[i % COLORS.length]} />
                      ))}
                    </Bar>
                  </BarChart>
                </ResponsiveContainer>
              </div>
            </Col>
          </Row>
        )}
      </Card>
    </div>
  );
}

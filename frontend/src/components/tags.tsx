// Coloured status tags for each kind of record.
import { Tag } from 'antd';
import type { TFunction } from 'i18next';

type Kind = 'token' | 'channel' | 'user' | 'redemption' | 'role' | 'log';

const COLORS: Record<Kind, Record<number, string>> = {
  token: { 1: 'green', 2: 'red', 3: 'default', 4: 'orange' },
  channel: { 0: 'default', 1: 'green', 2: 'red', 3: 'orange' },
  user: { 1: 'green', 2: 'red', 3: 'default' },
  redemption: { 1: 'green', 2: 'red', 3: 'default' },
  role: { 1: 'blue', 10: 'gold', 100: 'purple' },
  log: { 1: 'cyan', 2: 'green', 3: 'orange', 4: 'purple', 5: 'blue' },
};

export function statusLabel(kind: Kind, value: number, t: TFunction): string {
  const key = `status.${kind}.${value}`;
  return t(key, { defaultValue: t('status.unknown', { value }) });
}

export function StatusTag({ kind, value, t }: { kind: Kind; value: number; t: TFunction }) {
  return <Tag color={COLORS[kind][value] ?? 'default'}>{statusLabel(kind, value, t)}</Tag>;
}

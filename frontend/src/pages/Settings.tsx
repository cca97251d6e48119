import { Alert, Button, Card, Tabs } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type OptionItem } from '../api';
import Loading from '../components/Loading';
import OptionGroupCard from '../components/OptionGroupCard';
import { OPTION_SECTIONS, optionsToMap } from '../lib/options';
import { useSession } from '../session';

export default function Settings() {
  const { t } = useTranslation();
  const { reloadStatus } = useSession();
  const [stored, setStored] = useState<Record<string, string> | null>(null);
  const [error, setError] = useState('');

  const load = useCallback(() => {
    api
      .get<OptionItem[]>('/api/option/')
      .then((list) => {
        setStored(optionsToMap(list));
        setError('');
      })
      .catch((e) => setError(errorMessage(e)));
  }, []);

  useEffect(load, [load]);

  const onStored = useCallback(
    (key: string, value: string) => {
      setStored((s) => ({ ...(s ?? {}), [key]: value }));
      void reloadStatus();
    },
    [reloadStatus],
  );

  if (error && !stored) {
    return <Alert type="error" showIcon title={error} action={<Button onClick={load}>{t('common.retry')}</Button>} />;
  }
  if (!stored) return <Loading />;

  return (
    <Card title={t('menu.setting')}>
      <Tabs
        items={OPTION_SECTIONS.map((section) => ({
          key: section.id,
          label: <span data-testid={`settings-tab-${section.id}`}>{t(`settings.section.${section.id}`)}</span>,
          children: section.groups.map((g) => <OptionGroupCard key={g.id} group={g} stored={stored} onStored={onStored} />),
        }))}
      />
    </Card>
  );
}

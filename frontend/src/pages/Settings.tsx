// The root settings page: the core's options by tab and card, and the loaded plugins'
// options rendered from their descriptions (GET /api/option/specs).
import { Alert, Button, Card, Tabs } from 'antd';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, errorMessage, type OptionItem, type OptionSpec } from '../api';
import Loading from '../components/Loading';
import OptionGroupCard from '../components/OptionGroupCard';
import { OPTION_SECTIONS, optionsToMap } from '../lib/options';
import { settingsSections } from '../lib/pluginOptions';
import { useSession } from '../session';

export default function Settings() {
  const { t } = useTranslation();
  const { reloadStatus, status } = useSession();
  const [stored, setStored] = useState<Record<string, string> | null>(null);
  const [specs, setSpecs] = useState<OptionSpec[]>([]);
  const [error, setError] = useState('');

  const load = useCallback(() => {
    Promise.all([
      api.get<OptionItem[]>('/api/option/'),
      // without the descriptions, the core's settings still work
      api.get<OptionSpec[]>('/api/option/specs').catch(() => [] as OptionSpec[]),
    ])
      .then(([list, described]) => {
        setStored(optionsToMap(list));
        setSpecs(Array.isArray(described) ? described : []);
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

  const sections = useMemo(() => settingsSections(OPTION_SECTIONS, specs, status.plugins ?? []), [specs, status.plugins]);

  if (error && !stored) {
    return <Alert type="error" showIcon title={error} action={<Button onClick={load}>{t('common.retry')}</Button>} />;
  }
  if (!stored) return <Loading />;

  return (
    <Card title={t('menu.setting')}>
      <Tabs
        items={sections.map((section) => ({
          key: section.id,
          label: <span data-testid={`settings-tab-${section.id}`}>{t(`settings.section.${section.id}`, { defaultValue: section.id })}</span>,
          children: section.groups.map((g) => <OptionGroupCard key={g.id} group={g} stored={stored} onStored={onStored} />),
        }))}
      />
    </Card>
  );
}

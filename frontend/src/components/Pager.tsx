// List footer: total, page buttons and a page-size selector (10/20/50/100).
import { Flex, Grid, Pagination, Select, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { PAGE_SIZES } from '../lib/pagination';

export interface PagerProps {
  page: number;
  pageSize: number;
  total: number;
  onChange: (page: number, pageSize: number) => void;
}

export default function Pager({ page, pageSize, total, onChange }: PagerProps) {
  const { t } = useTranslation();
  const screens = Grid.useBreakpoint();
  return (
    <Flex wrap gap="small" align="center" justify="flex-end" style={{ marginTop: 16 }} data-testid="pager">
      <Typography.Text type="secondary" data-testid="list-total">
        {t('common.total', { count: total })}
      </Typography.Text>
      <Pagination
        current={page}
        pageSize={pageSize}
        total={total}
        showSizeChanger={false}
        simple={!screens.md}
        onChange={(p) => onChange(p, pageSize)}
      />
      <Select
        data-testid="page-size-select"
        aria-label={t('common.pageSize')}
        value={pageSize}
        style={{ width: 120 }}
        onChange={(size: number) => onChange(1, size)}
        options={PAGE_SIZES.map((n) => ({
          value: n,
          label: t('common.perPage', { count: n }),
          'data-testid': `page-size-option-${n}`,
        }))}
      />
    </Flex>
  );
}

// The frame of every list page: a card with a toolbar (create, page actions, refresh,
// keyword search), the error of the last load, the table and the pager.
import { PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Table, type TableColumnsType } from 'antd';
import type { HTMLAttributes, Key, ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import Pager from './Pager';
import SearchBox from './SearchBox';
import type { ListState } from './useList';

export interface ListToolbarProps {
  /** Test ids: `{testPrefix}-create`, `-refresh`, `-search`, `-search-button`. */
  testPrefix: string;
  create?: { label: string; onClick: () => void };
  /** Buttons of the page, between "create" and "refresh". */
  actions?: ReactNode;
  onRefresh: () => void;
  search?: { placeholder: string; onSearch: (keyword: string) => void; width?: number };
}

export function ListToolbar({ testPrefix, create, actions, onRefresh, search }: ListToolbarProps) {
  const { t } = useTranslation();
  return (
    <div className="page-toolbar">
      {create && (
        <Button type="primary" icon={<PlusOutlined />} onClick={create.onClick} data-testid={`${testPrefix}-create`}>
          {create.label}
        </Button>
      )}
      {actions}
      <Button icon={<ReloadOutlined />} onClick={onRefresh} data-testid={`${testPrefix}-refresh`}>
        {t('common.refresh')}
      </Button>
      {search && <SearchBox placeholder={search.placeholder} onSearch={search.onSearch} testId={`${testPrefix}-search`} width={search.width} />}
    </div>
  );
}

export interface ListTableProps<T> {
  /** Rows get the test id `{testPrefix}-row-{rowKey}`. */
  testPrefix: string;
  list: ListState<T>;
  columns: TableColumnsType<T>;
  rowKey?: (record: T) => Key;
  size?: 'small' | 'middle';
}

const byId = (record: unknown) => (record as { id: Key }).id;

/** The load error, the table of the current page and the pager. */
export function ListTable<T extends object>({ testPrefix, list, columns, rowKey = byId, size = 'middle' }: ListTableProps<T>) {
  return (
    <>
      {list.error && <Alert type="error" showIcon title={list.error} style={{ marginBottom: 12 }} />}
      <Table<T>
        rowKey={rowKey}
        size={size}
        columns={columns}
        dataSource={list.items}
        loading={list.loading}
        pagination={false}
        scroll={{ x: 'max-content' }}
        onRow={(r) => ({ 'data-testid': `${testPrefix}-row-${rowKey(r)}` }) as HTMLAttributes<HTMLElement>}
      />
      <Pager page={list.page} pageSize={list.pageSize} total={list.total} onChange={list.onPageChange} />
    </>
  );
}

export interface ListPageProps<T> extends ListTableProps<T>, Omit<ListToolbarProps, 'onRefresh'> {
  title: ReactNode;
  /** The card's top-right corner. */
  extra?: ReactNode;
  /** Replaces the standard toolbar (e.g. a filter form). */
  toolbar?: ReactNode;
  /** Notices between the toolbar and the table. */
  notices?: ReactNode;
  /** Dialogs and drawers of the page. */
  children?: ReactNode;
}

export default function ListPage<T extends object>(props: ListPageProps<T>) {
  const { title, extra, toolbar, notices, children, testPrefix, list, create, actions, search } = props;
  return (
    <Card title={title} extra={extra}>
      {toolbar ?? <ListToolbar testPrefix={testPrefix} create={create} actions={actions} search={search} onRefresh={() => void list.reload()} />}
      {notices}
      <ListTable<T> testPrefix={testPrefix} list={list} columns={props.columns} rowKey={props.rowKey} size={props.size} />
      {children}
    </Card>
  );
}

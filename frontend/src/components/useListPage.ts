// State shared by the list pages: the list with its keyword search, the create/edit
// dialog, and actions that report their outcome and reload the list.
import { App } from 'antd';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { errorMessage, type Query } from '../api';
import { useList, type ListState } from './useList';

export interface Editor<T> {
  open: boolean;
  /** The record being edited; null when creating. Kept while the dialog closes. */
  record: T | null;
  create: () => void;
  edit: (record: T) => void;
  close: () => void;
}

/** Open/closed state of a create-or-edit dialog. */
export function useEditor<T>(): Editor<T> {
  const [state, setState] = useState<{ open: boolean; record: T | null }>({ open: false, record: null });
  return {
    ...state,
    create: useCallback(() => setState({ open: true, record: null }), []),
    edit: useCallback((record: T) => setState({ open: true, record }), []),
    close: useCallback(() => setState((s) => ({ ...s, open: false })), []),
  };
}

export type Act = (fn: () => Promise<unknown>, done?: string) => Promise<void>;

/** Runs `fn`; on success shows `done` (default "Done") and reloads, on failure shows the error. */
export function useAct(reload: () => Promise<void>): Act {
  const { t } = useTranslation();
  const { message } = App.useApp();
  return useCallback(
    async (fn, done) => {
      try {
        await fn();
        message.success(done ?? t('common.done'));
        await reload();
      } catch (e) {
        message.error(errorMessage(e));
      }
    },
    [message, reload, t],
  );
}

export interface ListPageOptions {
  /** The list route, e.g. `/api/token/`. */
  path: string;
  /** The keyword search route (`?keyword=`); without it the keyword goes to `path`. */
  searchPath?: string;
  /** Filters sent with every request. */
  filters?: Query;
}

export interface ListPageState<T> {
  list: ListState<T>;
  keyword: string;
  search: (keyword: string) => void;
  editor: Editor<T>;
  act: Act;
}

/** Everything a list page keeps: list, search keyword, dialog and actions. */
export function useListPage<T>({ path, searchPath, filters = {} }: ListPageOptions): ListPageState<T> {
  const [keyword, search] = useState('');
  const list = useList<T>(keyword && searchPath ? searchPath : path, keyword ? { ...filters, keyword } : filters);
  const editor = useEditor<T>();
  const act = useAct(list.reload);
  return { list, keyword, search, editor, act };
}

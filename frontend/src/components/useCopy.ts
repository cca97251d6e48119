import { App } from 'antd';
import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { copyText } from './copy';

/** Copies text and tells the person whether it worked (showing it when it did not). */
export function useCopy() {
  const { message, modal } = App.useApp();
  const { t } = useTranslation();
  return useCallback(
    async (text: string) => {
      if (await copyText(text)) {
        message.success(t('common.copied'));
      } else {
        modal.info({ title: t('common.copyManually'), content: text, width: 560 });
      }
    },
    [message, modal, t],
  );
}

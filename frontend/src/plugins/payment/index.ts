// Online top-up, shown on the top-up page while any loaded plugin provides a payment
// provider (EPay, ...): amount, method, price preview, pay, and the user's orders.
import { lazy } from 'react';
import type { PluginUi } from '../types';
import en from './en.json';
import zhCN from './zh-CN.json';

const ui: PluginUi = {
  provides: 'payment',
  messages: { en, 'zh-CN': zhCN },
  slots: { topup: lazy(() => import('./OnlineTopUp')) },
};

export default ui;

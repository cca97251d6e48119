// The Midjourney plugin's UI: the drawing-task gallery, its menu entry and translations.
// Its settings are rendered from the plugin's option descriptions (GET /api/option/specs).
import { PictureOutlined } from '@ant-design/icons';
import { lazy } from 'react';
import type { PluginUi } from '../types';
import en from './en.json';
import zhCN from './zh-CN.json';

const ui: PluginUi = {
  messages: { en, 'zh-CN': zhCN },
  nav: [{ key: 'midjourney', path: '/midjourney', icon: <PictureOutlined />, minRole: 1, after: 'topup' }],
  routes: [{ path: 'midjourney', component: lazy(() => import('./Midjourney')), minRole: 1 }],
};

export default ui;

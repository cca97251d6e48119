// The EPay plugin's UI: only the title of its settings card; the fields themselves are
// rendered from the plugin's option descriptions, the payment pages belong to "payment".
import type { PluginUi } from '../types';
import en from './en.json';
import zhCN from './zh-CN.json';

const ui: PluginUi = { messages: { en, 'zh-CN': zhCN } };

export default ui;

// i18next set-up: zh-CN and en. The language is the one chosen in the header
// (remembered in localStorage), else the browser's.
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import en from './en.json';
import zhCN from './zh-CN.json';

export const LANGUAGES = [
  { code: 'zh-CN', label: '简体中文' },
  { code: 'en', label: 'English' },
] as const;

export type Language = (typeof LANGUAGES)[number]['code'];

export const LANG_STORAGE_KEY = 'oneapi_lang';

/** The stored choice when valid, else the first browser language we support, else English. */
export function pickLanguage(stored: string | null | undefined, browser: readonly string[] | undefined): Language {
  if (stored === 'zh-CN' || stored === 'en') return stored;
  for (const raw of browser ?? []) {
    const l = (raw || '').toLowerCase();
    if (l.startsWith('zh')) return 'zh-CN';
    if (l.startsWith('en')) return 'en';
  }
  return 'en';
}

function readStored(): string | null {
  try {
    return localStorage.getItem(LANG_STORAGE_KEY);
  } catch {
    return null;
  }
}

function browserLanguages(): string[] {
  if (typeof navigator === 'undefined') return [];
  return navigator.languages?.length ? [...navigator.languages] : [navigator.language];
}

export function setLanguage(lang: Language): void {
  try {
    localStorage.setItem(LANG_STORAGE_KEY, lang);
  } catch {
    // private mode: the choice lasts for this page only
  }
  void i18n.changeLanguage(lang);
}

export const resources = {
  en: { translation: en },
  'zh-CN': { translation: zhCN },
};

void i18n.use(initReactI18next).init({
  resources,
  lng: pickLanguage(readStored(), browserLanguages()),
  fallbackLng: 'en',
  interpolation: { escapeValue: false },
  returnNull: false,
});

i18n.on('languageChanged', (lng) => {
  if (typeof document !== 'undefined') document.documentElement.lang = lng;
});

export default i18n;

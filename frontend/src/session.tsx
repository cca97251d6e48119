// Site status (/api/status) and the signed-in user, shared through React context.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, ROLE_ADMIN, ROLE_ROOT, UNAUTHORIZED_EVENT, type Status, type User } from './api';
import { DEFAULT_QUOTA_PER_UNIT, formatQuota, type QuotaDisplay } from './lib/format';

const USER_STORAGE_KEY = 'user';

export interface Session {
  status: Status;
  statusLoaded: boolean;
  statusError: string;
  reloadStatus: () => Promise<void>;
  user: User | null;
  /** False until the session check with /api/user/self has finished. */
  userChecked: boolean;
  setUser: (u: User | null) => void;
  refreshUser: () => Promise<User | null>;
  logout: () => Promise<void>;
  isAdmin: boolean;
  isRoot: boolean;
  mustChangePassword: boolean;
  display: QuotaDisplay;
  quota: (q: number | null | undefined, digits?: number) => string;
}

const SessionContext = createContext<Session | null>(null);

function readStoredUser(): User | null {
  try {
    const raw = localStorage.getItem(USER_STORAGE_KEY);
    return raw ? (JSON.parse(raw) as User) : null;
  } catch {
    return null;
  }
}

function storeUser(u: User | null) {
  try {
    if (u) localStorage.setItem(USER_STORAGE_KEY, JSON.stringify(u));
    else localStorage.removeItem(USER_STORAGE_KEY);
  } catch {
    // ignore
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<Status>({});
  const [statusLoaded, setStatusLoaded] = useState(false);
  const [statusError, setStatusError] = useState('');
  const [user, setUserState] = useState<User | null>(readStoredUser);
  // Only a remembered user needs checking; nobody remembered means signed out.
  const [userChecked, setUserChecked] = useState(() => !readStoredUser());

  const setUser = useCallback((u: User | null) => {
    storeUser(u);
    setUserState(u);
  }, []);

  const reloadStatus = useCallback(
    () =>
      api
        .get<Status>('/api/status')
        .then((s) => {
          setStatus(s ?? {});
          setStatusError('');
          if (s?.system_name) document.title = s.system_name;
          if (s?.logo) {
            const link = document.querySelector<HTMLLinkElement>('link[rel~="icon"]');
            if (link) link.href = s.logo;
          }
        })
        .catch((e: unknown) => setStatusError(e instanceof Error ? e.message : String(e)))
        .finally(() => setStatusLoaded(true)),
    [],
  );

  const refreshUser = useCallback(
    () =>
      api
        .get<User>('/api/user/self')
        .then((u): User | null => {
          setUser(u);
          return u;
        })
        .catch((e: unknown) => {
          // The server said no: signed out. A network or server error keeps what we had.
          const status = e instanceof ApiError ? e.status : 0;
          if (status > 0 && status < 500) {
            setUser(null);
            return null;
          }
          return readStoredUser();
        })
        .finally(() => setUserChecked(true)),
    [setUser],
  );

  const logout = useCallback(async () => {
    try {
      await api.get('/api/user/logout');
    } finally {
      setUser(null);
    }
  }, [setUser]);

  useEffect(() => {
    void reloadStatus();
    if (readStoredUser()) void refreshUser();
  }, [reloadStatus, refreshUser]);

  useEffect(() => {
    const onUnauthorized = () => setUser(null);
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, [setUser]);

  const value = useMemo<Session>(() => {
    const display: QuotaDisplay = {
      displayInCurrency: status.display_in_currency ?? true,
      quotaPerUnit: Number(status.quota_per_unit) || DEFAULT_QUOTA_PER_UNIT,
    };
    const role = user?.role ?? 0;
    return {
      status,
      statusLoaded,
      statusError,
      reloadStatus,
      user,
      userChecked,
      setUser,
      refreshUser,
      logout,
      isAdmin: role >= ROLE_ADMIN,
      isRoot: role >= ROLE_ROOT,
      mustChangePassword: Boolean(user && (user.root_password_unchanged || (role >= ROLE_ROOT && status.root_password_unchanged))),
      display,
      quota: (q, digits) => formatQuota(q, display, digits),
    };
  }, [status, statusLoaded, statusError, reloadStatus, user, userChecked, setUser, refreshUser, logout]);

  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

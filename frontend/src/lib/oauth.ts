// Third-party sign-in: which providers /api/status turns on, and where to send the browser.
// The provider sends it back to /oauth/{provider} (pages/OAuthCallback), which finishes the
// sign-in (or, when signed in, binds the account) through GET /api/oauth/{provider}.
import { api, type Status, type User } from '../api';

export type Provider = 'github' | 'wechat' | 'lark' | 'oidc';
export const PROVIDERS: Provider[] = ['github', 'wechat', 'lark', 'oidc'];
/** Providers that redirect the browser (WeChat uses a code typed into a form instead). */
export type RedirectProvider = Exclude<Provider, 'wechat'>;

export const PROVIDER_NAMES: Record<Provider, string> = { github: 'GitHub', wechat: 'WeChat', lark: 'Lark', oidc: 'OIDC' };

/** The users column holding each provider's account id. */
export const BINDING_FIELD: Record<Provider, 'github_id' | 'wechat_id' | 'lark_id' | 'oidc_id'> = {
  github: 'github_id',
  wechat: 'wechat_id',
  lark: 'lark_id',
  oidc: 'oidc_id',
};

/** Whether /api/status says sign-in with `provider` is available. */
export function providerEnabled(status: Status, provider: Provider): boolean {
  switch (provider) {
    case 'github':
      return !!(status.github_oauth && status.github_client_id);
    case 'wechat':
      return !!status.wechat_login;
    case 'lark':
      return !!status.lark_client_id;
    case 'oidc':
      return !!(status.oidc && status.oidc_client_id && status.oidc_authorization_endpoint);
  }
}

export function boundId(user: User, provider: Provider): string {
  return (user[BINDING_FIELD[provider]] as string | null | undefined) ?? '';
}

/** Where the provider sends the browser back; the server uses the same address (ServerAddress,
 * else the address it was reached at) when it redeems the code. */
export function callbackUrl(status: Status, provider: RedirectProvider, origin: string): string {
  const base = (status.server_address || origin).replace(/\/+$/, '');
  return `${base}/oauth/${provider}`;
}

/** The provider's authorization page for `state` (from GET /api/oauth/state). */
export function authorizeUrl(provider: RedirectProvider, status: Status, state: string, origin: string): string {
  const redirect = callbackUrl(status, provider, origin);
  if (provider === 'github') {
    const q = new URLSearchParams({ client_id: status.github_client_id ?? '', state, scope: 'user:email' });
    return `https://github.com/login/oauth/authorize?${q}`;
  }
  if (provider === 'lark') {
    const q = new URLSearchParams({ client_id: status.lark_client_id ?? '', redirect_uri: redirect, response_type: 'code', state });
    return `https://passport.feishu.cn/suite/passport/oauth/authorize?${q}`;
  }
  const url = new URL(status.oidc_authorization_endpoint ?? '', origin);
  url.searchParams.set('client_id', status.oidc_client_id ?? '');
  url.searchParams.set('redirect_uri', redirect);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', 'openid profile email');
  url.searchParams.set('state', state);
  return url.toString();
}

/** Send the browser to the provider (a fresh state is kept in the session first). */
export async function startOAuth(provider: RedirectProvider, status: Status): Promise<void> {
  const state = await api.get<string>('/api/oauth/state');
  window.location.href = authorizeUrl(provider, status, state, window.location.origin);
}

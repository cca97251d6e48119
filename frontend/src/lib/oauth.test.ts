import { describe, expect, it } from 'vitest';
import type { Status, User } from '../api';
import { authorizeUrl, boundId, callbackUrl, providerEnabled } from './oauth';

const status: Status = {
  github_oauth: true,
  github_client_id: 'gh',
  wechat_login: false,
  lark_client_id: 'cli_1',
  oidc: true,
  oidc_client_id: 'oc',
  oidc_authorization_endpoint: 'https://id.example.com/authorize?tenant=t1',
  server_address: '',
};

describe('third-party sign-in', () => {
  it('says which providers /api/status turns on', () => {
    expect(['github', 'wechat', 'lark', 'oidc'].filter((p) => providerEnabled(status, p as never))).toEqual(['github', 'lark', 'oidc']);
    expect(providerEnabled({ ...status, oidc_authorization_endpoint: '' }, 'oidc')).toBe(false);
    expect(providerEnabled({ ...status, github_oauth: false }, 'github')).toBe(false);
    expect(providerEnabled({ wechat_login: true }, 'wechat')).toBe(true);
  });

  it('sends the provider back to ServerAddress, else this origin', () => {
    expect(callbackUrl(status, 'oidc', 'http://localhost:3000')).toBe('http://localhost:3000/oauth/oidc');
    expect(callbackUrl({ ...status, server_address: 'https://api.example.com/' }, 'lark', 'http://x')).toBe('https://api.example.com/oauth/lark');
  });

  it('builds each authorization URL with the state', () => {
    const gh = new URL(authorizeUrl('github', status, 's1', 'http://h'));
    expect(gh.origin + gh.pathname).toBe('https://github.com/login/oauth/authorize');
    expect(gh.searchParams.get('client_id')).toBe('gh');
    expect(gh.searchParams.get('state')).toBe('s1');
    const lark = new URL(authorizeUrl('lark', status, 's2', 'http://h'));
    expect(lark.searchParams.get('client_id')).toBe('cli_1');
    expect(lark.searchParams.get('redirect_uri')).toBe('http://h/oauth/lark');
    expect(lark.searchParams.get('state')).toBe('s2');
    const oidc = new URL(authorizeUrl('oidc', status, 's3', 'http://h'));
    expect(oidc.origin + oidc.pathname).toBe('https://id.example.com/authorize');
    expect(oidc.searchParams.get('tenant')).toBe('t1');
    expect(oidc.searchParams.get('response_type')).toBe('code');
    expect(oidc.searchParams.get('scope')).toBe('openid profile email');
    expect(oidc.searchParams.get('redirect_uri')).toBe('http://h/oauth/oidc');
    expect(oidc.searchParams.get('state')).toBe('s3');
  });

  it('reads the bound account ids of a user', () => {
    const user = { github_id: 'octo', wechat_id: '', lark_id: 'ou_1', oidc_id: '' } as User;
    expect(boundId(user, 'github')).toBe('octo');
    expect(boundId(user, 'wechat')).toBe('');
    expect(boundId(user, 'lark')).toBe('ou_1');
  });
});

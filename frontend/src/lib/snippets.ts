// "Use with" snippets for a token: base URL, key, and ready-to-run examples.
import { fullKey } from './format';

export interface Snippets {
  baseUrl: string;
  key: string;
  curl: string;
  python: string;
  env: string;
}

export function buildSnippets(origin: string, key: string, model: string): Snippets {
  const baseUrl = `${origin.replace(/\/+$/, '')}/v1`;
  const k = fullKey(key);
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }] });
  const curl = [
    `curl ${baseUrl}/chat/completions \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -H "Authorization: Bearer ${k}" \\`,
    `  -d '${body}'`,
  ].join('\n');
  const python = [
    'from openai import OpenAI',
    '',
    `client = OpenAI(base_url="${baseUrl}", api_key="${k}")`,
    'reply = client.chat.completions.create(',
    `    model="${model}",`,
    '    messages=[{"role": "user", "content": "Hello!"}],',
    ')',
    'print(reply.choices[0].message.content)',
  ].join('\n');
  const env = [`export OPENAI_BASE_URL="${baseUrl}"`, `export OPENAI_API_KEY="${k}"`].join('\n');
  return { baseUrl, key: k, curl, python, env };
}

/** The model to show in examples: the token's first allowed model, else the first available. */
export function exampleModel(tokenModels: string | null | undefined, available: string[]): string {
  const own = (tokenModels ?? '').split(',').map((s) => s.trim()).find(Boolean);
  return own || available[0] || 'gpt-4o-mini';
}

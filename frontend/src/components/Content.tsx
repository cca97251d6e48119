// Operator-written content (notice, about, home page): a URL is shown in an iframe,
// anything else is Markdown (which may contain HTML, as in One API).
import { Typography } from 'antd';
import { marked } from 'marked';
import { useMemo } from 'react';

export function isUrlContent(content: string): boolean {
  return /^https:\/\/\S+$/.test(content.trim());
}

export default function Content({ content, testId }: { content: string; testId?: string }) {
  const html = useMemo(() => (isUrlContent(content) ? '' : (marked.parse(content, { async: false }) as string)), [content]);
  if (isUrlContent(content)) {
    return (
      <iframe
        data-testid={testId}
        src={content.trim()}
        title="content"
        style={{ width: '100%', height: 'calc(100vh - 200px)', minHeight: 400, border: 'none' }}
      />
    );
  }
  return (
    <Typography>
      <div className="markdown-content" data-testid={testId} dangerouslySetInnerHTML={{ __html: html }} />
    </Typography>
  );
}

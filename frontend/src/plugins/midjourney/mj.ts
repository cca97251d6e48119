// Midjourney task helpers.

/** A task as GET /api/mj/ and /api/mj/self show it. */
export interface MjTask {
  id: number;
  mj_id: string;
  action: string;
  prompt: string;
  status: string;
  progress: string;
  image_url?: string;
  fail_reason?: string;
  submit_time?: number;
  finish_time?: number;
  quota?: number;
  channel_id?: number;
  user_id?: number;
}

/** "45%" → 45; clamps to 0..100; blank or junk → 0. */
export function parseProgress(progress: string | number | null | undefined): number {
  const n = parseFloat(String(progress ?? '').replace('%', ''));
  if (!Number.isFinite(n)) return 0;
  return Math.min(100, Math.max(0, Math.round(n)));
}

export type ProgressStatus = 'success' | 'exception' | 'active' | 'normal';

const STATUS_COLORS: Record<string, string> = {
  SUCCESS: 'green',
  FAILURE: 'red',
  IN_PROGRESS: 'blue',
  SUBMITTED: 'cyan',
  NOT_START: 'default',
  MODAL: 'purple',
  CANCEL: 'default',
};

export function mjStatusColor(status: string): string {
  return STATUS_COLORS[(status || '').toUpperCase()] ?? 'default';
}

export function mjProgressStatus(status: string): ProgressStatus {
  switch ((status || '').toUpperCase()) {
    case 'SUCCESS':
      return 'success';
    case 'FAILURE':
    case 'CANCEL':
      return 'exception';
    case 'IN_PROGRESS':
    case 'SUBMITTED':
      return 'active';
    default:
      return 'normal';
  }
}

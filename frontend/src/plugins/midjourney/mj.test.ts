import { describe, expect, it } from 'vitest';
import { mjProgressStatus, mjStatusColor, parseProgress } from './mj';

describe('midjourney helpers', () => {
  it('parses progress', () => {
    expect(parseProgress('45%')).toBe(45);
    expect(parseProgress('100%')).toBe(100);
    expect(parseProgress('')).toBe(0);
    expect(parseProgress(undefined)).toBe(0);
    expect(parseProgress('250%')).toBe(100);
  });

  it('maps status to colours and progress states', () => {
    expect(mjStatusColor('SUCCESS')).toBe('green');
    expect(mjStatusColor('weird')).toBe('default');
    expect(mjProgressStatus('FAILURE')).toBe('exception');
    expect(mjProgressStatus('IN_PROGRESS')).toBe('active');
    expect(mjProgressStatus('')).toBe('normal');
  });
});

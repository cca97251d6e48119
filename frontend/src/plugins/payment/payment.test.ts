import { describe, expect, it } from 'vitest';
import { payAnswerOf, paymentFormSpec } from './payment';

describe('payment form', () => {
  it('builds a POST form with string fields', () => {
    expect(paymentFormSpec({ url: 'https://pay.example.com/submit.php', method: 'POST', fields: { pid: 1001, money: '10.00', sign: 'ab', skip: null } })).toEqual({
      action: 'https://pay.example.com/submit.php',
      method: 'POST',
      inputs: [
        ['pid', '1001'],
        ['money', '10.00'],
        ['sign', 'ab'],
      ],
    });
  });

  it('keeps GET, defaults to POST and refuses non-http URLs', () => {
    expect(paymentFormSpec({ url: 'http://x/pay', method: 'get' }).method).toBe('GET');
    expect(paymentFormSpec({ url: 'http://x/pay' }).method).toBe('POST');
    expect(() => paymentFormSpec({ url: 'javascript:alert(1)' })).toThrow();
  });
});

describe('payAnswerOf', () => {
  it("reads New API's answer: data is the fields, url beside it", () => {
    const answer = payAnswerOf({ data: { pid: '1', money: '7.30' }, url: 'https://pay.example/submit.php' });
    expect(answer).toEqual({ url: 'https://pay.example/submit.php', method: 'POST', fields: { pid: '1', money: '7.30' } });
    expect(paymentFormSpec(payAnswerOf({ data: {}, url: 'https://x.example/p', method: 'GET' })).method).toBe('GET');
  });
});

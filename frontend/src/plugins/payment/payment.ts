// Turning POST /api/user/pay's answer into a browser form submission.

export interface PayAnswer {
  url: string;
  method?: string;
  fields?: Record<string, unknown>;
}

/** New API's answer of POST /api/user/pay: `data` the fields, `url` (and our `method`) beside. */
export function payAnswerOf(envelope: { data: unknown; url?: unknown; method?: unknown }): PayAnswer {
  const fields = envelope.data && typeof envelope.data === 'object' ? (envelope.data as Record<string, unknown>) : {};
  return { url: String(envelope.url ?? ''), method: typeof envelope.method === 'string' ? envelope.method : 'POST', fields };
}

export interface FormSpec {
  action: string;
  method: 'GET' | 'POST';
  inputs: [string, string][];
}

export function paymentFormSpec(pay: PayAnswer): FormSpec {
  if (!pay || typeof pay.url !== 'string' || !/^https?:\/\//i.test(pay.url)) {
    throw new Error('payment: no valid URL');
  }
  const method = String(pay.method ?? 'POST').toUpperCase() === 'GET' ? 'GET' : 'POST';
  const inputs = Object.entries(pay.fields ?? {})
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => [k, String(v)] as [string, string]);
  return { action: pay.url, method, inputs };
}

/** Builds a hidden form and submits it (navigates away). */
export function submitPayment(pay: PayAnswer): void {
  const spec = paymentFormSpec(pay);
  const form = document.createElement('form');
  form.action = spec.action;
  form.method = spec.method;
  form.style.display = 'none';
  for (const [name, value] of spec.inputs) {
    const input = document.createElement('input');
    input.type = 'hidden';
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
  document.body.appendChild(form);
  form.submit();
}

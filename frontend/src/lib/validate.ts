// Small input validators used by the forms.

function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && String(Number(p)) === p);
}

function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return false;
  const doubleColons = s.split('::').length - 1;
  if (doubleColons > 1) return false;
  const groups = s.split(':').filter((g) => g !== '');
  let count = groups.length;
  const last = groups[groups.length - 1] ?? '';
  if (last.includes('.')) {
    if (!isIPv4(last)) return false;
    count += 1; // an embedded IPv4 takes two groups
    groups.pop();
  }
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return doubleColons ? count < 8 : count === 8;
}

/** An IP address or CIDR block (IPv4 or IPv6). */
export function isValidCidr(value: string): boolean {
  const s = value.trim();
  if (!s) return false;
  const [addr, bits, ...rest] = s.split('/');
  if (rest.length) return false;
  const v4 = isIPv4(addr);
  if (!v4 && !isIPv6(addr)) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (v4 ? 32 : 128);
}

/** A comma-separated list of CIDRs; blank is fine. Returns the first bad entry, or ''. */
export function firstInvalidCidr(list: string | null | undefined): string {
  for (const part of (list ?? '').split(',')) {
    const s = part.trim();
    if (s && !isValidCidr(s)) return s;
  }
  return '';
}

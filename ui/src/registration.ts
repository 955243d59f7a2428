// Pure checks of the app registration a user types in on first launch (no DOM, no IPC).
//
// Each check answers:
// - `ok`: usable as it is (after `normalise`);
// - `empty`: nothing typed yet;
// - `partial`: could still become valid by typing on (shown as a problem only once the
//   field is left or the form submitted, so nobody is scolded mid-word);
// - `invalid`: cannot become valid by typing on (shown at once).

export type Check = 'ok' | 'empty' | 'partial' | 'invalid';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Group lengths of a GUID, 8-4-4-4-12. */
const GROUPS = [8, 4, 4, 4, 12];

/** Trimmed and lower-cased: GUIDs, domain names and the keywords are all case-insensitive. */
export function normalise(value: string): string {
  return value.trim().toLowerCase();
}

export function isGuid(value: string): boolean {
  return GUID.test(normalise(value));
}

/** Could `v` (normalised) still be completed into a GUID? */
function guidPrefix(v: string): boolean {
  const parts = v.split('-');
  if (parts.length > GROUPS.length) return false;
  return parts.every((p, i) => {
    const max = GROUPS[i] ?? 0;
    if (!/^[0-9a-f]*$/.test(p) || p.length > max) return false;
    // Every group but the last one typed must be complete.
    return i === parts.length - 1 || p.length === max;
  });
}

export function checkClientId(value: string): Check {
  const v = normalise(value);
  if (!v) return 'empty';
  if (GUID.test(v)) return 'ok';
  return guidPrefix(v) ? 'partial' : 'invalid';
}

/** The tenant keywords a multi-tenant application accepts. */
export const TENANT_KEYWORDS = ['organizations', 'common'] as const;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A DNS domain name with at least two labels and an alphabetic top-level label. */
export function isDomain(value: string): boolean {
  const v = normalise(value);
  if (v.length > 253) return false;
  const labels = v.split('.');
  if (labels.length < 2) return false;
  const tld = labels[labels.length - 1] ?? '';
  return labels.every((l) => LABEL.test(l)) && /^[a-z]{2,63}$/.test(tld);
}

export function checkTenant(value: string): Check {
  const v = normalise(value);
  if (!v) return 'empty';
  if (GUID.test(v) || isDomain(v) || (TENANT_KEYWORDS as readonly string[]).includes(v)) return 'ok';
  // Letters, digits, dots and hyphens can still become a domain, a GUID or a keyword.
  if (/^[a-z0-9.-]+$/.test(v) && v.length <= 253 && !v.startsWith('.') && !v.startsWith('-') && !v.includes('..')) {
    return 'partial';
  }
  return 'invalid';
}

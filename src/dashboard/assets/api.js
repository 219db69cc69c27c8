// The API as the page calls it: the session cookie goes by itself, the CSRF token in a header.
const CSRF_HEADER = 'x-baton-csrf';
let csrf = '';

export function setCsrf(token) {
  csrf = token;
}

export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      ...(method !== 'GET' ? { [CSRF_HEADER]: csrf } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text.split('\n').filter(Boolean).pop()) : {};
  } catch {
    json = { text };
  }
  if (!res.ok) {
    const err = new Error(json?.error?.message ?? `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return json;
}

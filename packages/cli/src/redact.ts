/**
 * `text` with the password of the connection string `url` (raw or decoded) and the credentials of
 * any connection string in it replaced by `***`. Dependency-free, so that reporting a failure never
 * loads the database driver.
 */
export function redact(text: string, url: string): string {
  let out = text;
  try {
    const parsed = new URL(url);
    const password = decodeURIComponent(parsed.password);
    if (password) out = out.split(password).join('***').split(parsed.password).join('***');
  } catch {
    // not a URL: nothing to redact beyond the generic pattern below
  }
  return out.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:***@');
}

import { BerthClient } from '@berth/sdk';

/**
 * The headers of an XMLHttpRequest answer (`getAllResponseHeaders()`: `name: value` lines) as fetch's
 * Headers, so the client reads an upload's answer as any other. A line without a name is skipped.
 */
export function parseResponseHeaders(raw: string): Headers {
  const headers = new Headers();
  for (const line of raw.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    try {
      headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
    } catch {
      // A name Headers refuses (not a token) is not one the client reads.
    }
  }
  return headers;
}

/**
 * A `fetch` over XMLHttpRequest, for uploads: fetch() reports no upload progress, and Chromium sends
 * a streamed fetch body only over HTTP/2. The file (a Blob) is read by the browser as it is sent,
 * never into memory by the page.
 */
function xhrFetch(onUploadProgress: (sent: number, total: number) => void): typeof fetch {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      const url = input instanceof Request ? input.url : String(input);
      xhr.open(init.method ?? 'GET', url);
      xhr.responseType = 'blob';
      xhr.withCredentials = false;
      // The SDK set the headers (the CSRF one among them).
      new Headers(init.headers).forEach((value, key) => xhr.setRequestHeader(key, value));
      xhr.upload.onprogress = (e) => onUploadProgress(e.loaded, e.lengthComputable ? e.total : 0);
      xhr.onload = () => {
        const body = xhr.status === 204 ? null : (xhr.response as Blob);
        resolve(new Response(body, { status: xhr.status, statusText: xhr.statusText, headers: parseResponseHeaders(xhr.getAllResponseHeaders()) }));
      };
      xhr.onerror = () => reject(new TypeError('the upload failed: Berth cannot be reached'));
      xhr.onabort = () => reject(new DOMException('the upload was cancelled', 'AbortError'));
      if (init.signal) {
        if (init.signal.aborted) return xhr.abort();
        init.signal.addEventListener('abort', () => xhr.abort(), { once: true });
      }
      xhr.send((init.body ?? null) as XMLHttpRequestBodyInit | null);
    });
}

/** A client whose requests report upload progress; for data imports. */
export function uploadingClient(onUploadProgress: (sent: number, total: number) => void): BerthClient {
  return new BerthClient({ baseUrl: window.location.origin, fetch: xhrFetch(onUploadProgress) });
}

/** Bytes sent of the whole upload; the browser may not know the total, the file's size does. */
export function uploadProgress(sent: number, total: number, fileSize: number): { sent: number; total: number } {
  return { sent, total: total > 0 ? total : fileSize };
}

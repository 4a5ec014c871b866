// A stand-in for the browser's fetch, for WebBackend tests: it records every request and
// answers each with the same status and JSON body.

export type Call = { url: string; init: RequestInit };

/** The page the web client is served from, for WebBackend's `location`. */
export const location = { protocol: 'https:', host: 'chat.example' };

/** A fetch that answers `status` with `body` as JSON (no body when it is undefined), and the calls it saw. */
export function fakeFetch(body: unknown, status = 200) {
  const calls: Call[] = [];
  const fetch = async (url: string, init: RequestInit = {}) => {
    calls.push({ url, init });
    return new Response(body === undefined ? null : JSON.stringify(body), { status });
  };
  return { calls, fetch };
}

// The server's live events (GET /api/events, Server-Sent Events) for the pages: each page
// reloads what it shows when something it shows changed, instead of asking every few seconds.
// Read with fetch() rather than EventSource, which cannot send the token. The stream is
// reopened when it drops or the server ends it (with the last id seen, so nothing is missed),
// and a page hears "connected" then, and "reset" when the server could not say what it missed:
// it reloads.
import { useEffect, useRef } from "preact/hooks";
import { headers as authHeaders } from "./api";

export interface LiveEvent {
  type: string; // run, job, deploy, incident; connected, reset
  data: any;
}

export function useLiveEvents(project: string | null, onEvent: (e: LiveEvent) => void) {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    const abort = new AbortController();
    let lastId = "";
    let delay = 1000;
    const open = async () => {
      while (!abort.signal.aborted) {
        try {
          // The token, or the session's cookie (sent by the browser); none on a server that lets
          // anyone read.
          const headers = authHeaders();
          if (lastId) headers.set("Last-Event-ID", lastId);
          const q = project ? `?project=${encodeURIComponent(project)}` : "";
          const res = await fetch(`/api/events${q}`, { headers, signal: abort.signal });
          // Refused (a token that may not read them): asking again will not change that; the
          // pages' own slow reloads go on.
          if (res.status === 401 || res.status === 403) return;
          if (!res.ok || !res.body) throw new Error(`${res.status}`);
          delay = 1000;
          handler.current({ type: "connected", data: null });
          const reader = res.body.getReader();
          const decoder = new TextDecoder();
          let pending = "";
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            pending += decoder.decode(value, { stream: true });
            let end: number;
            while ((end = pending.indexOf("\n\n")) >= 0) {
              const frame = pending.slice(0, end);
              pending = pending.slice(end + 2);
              let type = "message";
              let data = "";
              for (const line of frame.split("\n")) {
                if (line.startsWith("id: ")) lastId = line.slice(4);
                else if (line.startsWith("event: ")) type = line.slice(7);
                else if (line.startsWith("data: ")) data += line.slice(6);
              }
              if (!data) continue;
              let parsed: any = null;
              try {
                parsed = JSON.parse(data);
              } catch {
                continue;
              }
              handler.current({ type, data: parsed });
            }
          }
        } catch {
          if (abort.signal.aborted) return;
        }
        // Dropped or refused: again in a moment, a little later each time (up to 15 s).
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 15000);
      }
    };
    open();
    return () => abort.abort();
  }, [project]);
}

// Calls `fn` once for a burst of calls within `ms` (a run's jobs change together).
export function debounced(fn: () => void, ms = 200): () => void {
  let timer: number | undefined;
  return () => {
    clearTimeout(timer);
    timer = window.setTimeout(fn, ms);
  };
}

// A log, live: followed while its job runs, ANSI colours shown, only the lines in view put in
// the page (so a 100 MB log does not freeze the tab), search, a jump to the first error, and
// line links that can be shared (#/…/L120).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { follow } from "./api";

const LINE = 18; // px, fixed: the virtual list computes positions from it
// Past a few million pixels browsers place elements in float32 steps (lines of a
// million-line log would sit 2 px apart): the scroll area is capped, and scrolled proportionally.
const MAX_H = 4_000_000;
const ERROR = /\b(error|errors|fail|failed|failure|fatal|panic|exception)\b/i;

interface Span {
  text: string;
  cls: string;
}

// SGR colour codes (30–37, 90–97, bold, reset) into spans; other escapes are dropped.
export function ansiSpans(line: string): Span[] {
  const out: Span[] = [];
  let fg = "";
  let bold = false;
  let last = 0;
  const re = /\x1b\[([0-9;]*)([A-Za-z])/g;
  for (let m; (m = re.exec(line));) {
    if (m.index > last) out.push({ text: line.slice(last, m.index), cls: cls(fg, bold) });
    last = re.lastIndex;
    if (m[2] !== "m") continue;
    for (const code of (m[1] || "0").split(";").map(Number)) {
      if (code === 0) [fg, bold] = ["", false];
      else if (code === 1) bold = true;
      else if (code === 22) bold = false;
      else if (code === 39) fg = "";
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) fg = `c${code}`;
    }
  }
  if (last < line.length) out.push({ text: line.slice(last), cls: cls(fg, bold) });
  return out;
}

const cls = (fg: string, bold: boolean) => [fg, bold ? "b" : ""].filter(Boolean).join(" ");

export function LogView(props: { url: string; live: boolean; linkBase: string; line?: number }) {
  const lines = useRef<string[]>([""]);
  const [count, setCount] = useState(1);
  const [version, setVersion] = useState(0); // bumped whenever lines change
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(480);
  const [selected, setSelected] = useState<number | undefined>(props.line);
  const [query, setQuery] = useState("");
  const [status, setStatus] = useState("loading…");
  const box = useRef<HTMLDivElement>(null);
  const search = useRef<HTMLInputElement>(null);
  const stick = useRef(props.line === undefined);

  useEffect(() => {
    lines.current = [""];
    setCount(1);
    const abort = new AbortController();
    let pending = false;
    const flush = () => {
      pending = false;
      setCount(lines.current.length);
      setVersion((v) => v + 1);
      if (stick.current && box.current) box.current.scrollTop = box.current.scrollHeight;
    };
    setStatus(props.live ? "following…" : "loading…");
    follow(
      props.url,
      (text) => {
        const parts = text.split("\n");
        lines.current[lines.current.length - 1] += parts[0];
        for (let i = 1; i < parts.length; i++) lines.current.push(parts[i]);
        if (!pending) {
          pending = true;
          requestAnimationFrame(flush);
        }
      },
      abort.signal,
    )
      .then(() => {
        // A log ends with a new line: no empty last line to show.
        if (lines.current.length > 1 && lines.current[lines.current.length - 1] === "") {
          lines.current.pop();
        }
        flush();
        setStatus("");
      })
      .catch((e) => {
        if (!abort.signal.aborted) setStatus(`log unavailable: ${e.message}`);
      });
    return () => abort.abort();
  }, [props.url]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    setHeight(el.clientHeight);
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // A shared line link: scroll to it once it has arrived.
  useEffect(() => {
    if (props.line !== undefined && props.line <= count && box.current && stick.current === false) {
      box.current.scrollTop = Math.max(0, ((props.line - 5) * LINE) / ratio);
    }
  }, [props.line, count > (props.line ?? 0)]);

  const total = count * LINE;
  const areaH = Math.min(total, MAX_H);
  const ratio = total > areaH && areaH > height ? (total - height) / (areaH - height) : 1;
  const jump = (n: number) => {
    stick.current = false;
    setSelected(n);
    if (box.current) box.current.scrollTop = Math.max(0, ((n - 5) * LINE) / ratio);
  };
  // "/" searches the log, as in most log viewers (not while typing in a field).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (
        e.key !== "/" ||
        t.tagName === "INPUT" ||
        t.tagName === "TEXTAREA" ||
        t.tagName === "SELECT"
      )
        return;
      e.preventDefault();
      search.current?.focus();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  const toEnd = () => {
    stick.current = true;
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  };
  const firstError = () => {
    const i = lines.current.findIndex((l) => ERROR.test(l));
    if (i >= 0) jump(i + 1);
    else setStatus("no line looks like an error");
  };
  const find = () => {
    if (!query) return;
    const q = query.toLowerCase();
    const from = selected ?? 0;
    const all = lines.current;
    for (let k = 0; k < all.length; k++) {
      const i = (from + k) % all.length;
      if (all[i].toLowerCase().includes(q)) return jump(i + 1);
    }
    setStatus(`"${query}" is not in the log`);
  };

  const topLine = (scroll * ratio) / LINE; // the (fractional) line at the top of the view
  const first = Math.max(0, Math.floor(topLine) - 20);
  const last = Math.min(count, Math.ceil(topLine + height / LINE) + 20);
  const blockTop = scroll - (topLine - first) * LINE;
  const visible = useMemo(() => lines.current.slice(first, last), [first, last, version]);

  return (
    <div class="log">
      <div class="log-tools">
        <button type="button" onClick={firstError}>
          First error
        </button>
        <button type="button" onClick={toEnd} title="Go to the last line and keep following">
          End
        </button>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            find();
          }}
        >
          <input
            ref={search}
            type="search"
            placeholder="Search the log (/)"
            aria-label="Search the log"
            value={query}
            onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
          />
        </form>
        <span class="muted">
          {count.toLocaleString()} {count === 1 ? "line" : "lines"} {status && `· ${status}`}
        </span>
      </div>
      <div
        class="log-body"
        ref={box}
        tabIndex={0}
        aria-label="Log"
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          setScroll(el.scrollTop);
          stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - LINE * 2;
        }}
      >
        <div style={{ height: `${areaH}px`, position: "relative" }}>
          <div style={{ position: "absolute", top: `${blockTop}px`, left: 0, right: 0 }}>
            {visible.map((text, k) => {
              const n = first + k + 1;
              return (
                <div class={`line${n === selected ? " selected" : ""}`} id={`L${n}`} key={n}>
                  <a
                    href={`${props.linkBase}/L${n}`}
                    class="ln"
                    tabIndex={-1}
                    onClick={() => setSelected(n)}
                  >
                    {n}
                  </a>
                  <span class="text">
                    {ansiSpans(text).map((s) =>
                      s.cls ? <span class={s.cls}>{s.text}</span> : s.text,
                    )}
                  </span>
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </div>
  );
}

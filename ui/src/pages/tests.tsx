// A project's tests: the flaky and quarantined ones first (what a team must fix), then every
// test of its last runs; one test's history (each run's result and duration, its flakes, its
// quarantines), with a quarantine asked for or ended by those who may change things.
import { useContext, useEffect, useMemo, useState } from "preact/hooks";
import { api, Quarantine, TestPoint, TestSummary } from "../api";
import { Badge, ErrorBox, ProjectNav } from "../components";
import { debounced, useLiveEvents } from "../events";
import { ago, short, when } from "../format";
import { MeContext, readOnly } from "../session";

interface History {
  test: TestSummary;
  history: TestPoint[];
  flakes: { run_id: number; commit: string; how: string; agent: string; at_ms: number }[];
  quarantines: Quarantine[];
}

const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(1)} ms`);

export function TestsPage(props: { project: string; test?: string }) {
  const q = encodeURIComponent(props.project);
  const [tests, setTests] = useState<TestSummary[] | null>(null);
  const [shown, setShown] = useState<History | null>(null);
  const [filter, setFilter] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  // Every run's change is an event: the lists are read again at most every few seconds.
  const reload = useMemo(() => debounced(() => setTick((t) => t + 1), 3000), []);
  useLiveEvents(props.project, (e) => {
    if (e.type === "run" || e.type === "connected" || e.type === "reset") reload();
  });
  useEffect(() => {
    let alive = true;
    (async () => {
      try {
        const list = await api<{ tests: TestSummary[] }>(`/api/projects/${q}/tests`);
        const one = props.test
          ? await api<History>(
              `/api/projects/${q}/tests/history?test=${encodeURIComponent(props.test)}`,
            )
          : null;
        if (!alive) return;
        setTests(list.tests);
        setShown(one);
        setError(null);
      } catch (e: any) {
        if (alive) setError(e.message);
      }
    })();
    return () => {
      alive = false;
    };
  }, [props.project, props.test, tick]);

  const troubled = (tests ?? []).filter((t) => t.flakes > 0 || t.quarantine);
  const needle = filter.trim().toLowerCase();
  const others = (tests ?? [])
    .filter((t) => !needle || t.key.toLowerCase().includes(needle))
    .slice(0, 200);
  const link = (t: TestSummary) => (
    <a href={`#/projects/${q}/tests?test=${encodeURIComponent(t.key)}`}>{t.key}</a>
  );
  return (
    <>
      <header class="page-head">
        <h1>{props.project}: tests</h1>
        <ProjectNav project={props.project} current="tests" />
        <ErrorBox error={error} />
      </header>
      {shown && (
        <TestHistory project={props.project} h={shown} onChange={() => setTick((t) => t + 1)} />
      )}
      <section class="card" aria-label="flaky and quarantined tests">
        <h2>Flaky and quarantined</h2>
        {tests && troubled.length === 0 && (
          <p class="muted">No test failed and passed on one commit in the last 30 days.</p>
        )}
        {troubled.length > 0 && (
          <table class="tests-table">
            <thead>
              <tr>
                <th>Test</th>
                <th>Flaky</th>
                <th>Failed</th>
                <th>Last</th>
                <th>Quarantine</th>
              </tr>
            </thead>
            <tbody>
              {troubled.map((t) => (
                <tr key={t.id}>
                  <td>
                    {link(t)}
                    {t.cluster && <div class="cluster">{t.cluster.text}</div>}
                  </td>
                  <td>{t.flakes}×</td>
                  <td>
                    {t.failed} of {t.passed + t.failed}
                  </td>
                  <td>
                    <Badge state={t.last} />
                  </td>
                  <td>
                    {t.quarantine ? (
                      <>
                        <span class="tag t-quarantined">quarantined</span> until{" "}
                        {when(t.quarantine.expires_at_ms)} · {t.quarantine.owner}
                      </>
                    ) : (
                      <span class="muted">—</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card" aria-label="every test">
        <h2>Every test of the last runs</h2>
        <input
          aria-label="filter tests"
          placeholder="Filter by name"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        {tests && tests.length === 0 && (
          <p class="muted">No job has reported tests yet (a job's reports: {"{junit: …}"}).</p>
        )}
        {others.length > 0 && (
          <table class="tests-table">
            <thead>
              <tr>
                <th>Test</th>
                <th>Runs</th>
                <th>Failed</th>
                <th>Median</th>
                <th>Last</th>
              </tr>
            </thead>
            <tbody>
              {others.map((t) => (
                <tr key={t.id}>
                  <td>{link(t)}</td>
                  <td>{t.runs}</td>
                  <td>{t.failed}</td>
                  <td>{ms(t.median_ms)}</td>
                  <td>
                    <Badge state={t.last} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

// One test: a strip of its results (oldest to newest) and its durations, its flakes, its
// quarantine.
function TestHistory(props: { project: string; h: History; onChange: () => void }) {
  const { h } = props;
  const me = useContext(MeContext);
  const [reason, setReason] = useState("");
  const [until, setUntil] = useState("14d");
  const [error, setError] = useState<string | null>(null);
  const q = encodeURIComponent(props.project);
  const points = [...h.history].reverse();
  const top = Math.max(1, ...points.map((p) => p.ms));
  const act = async (path: string, body: unknown) => {
    try {
      await api(path, "POST", body);
      setError(null);
      setReason("");
      props.onChange();
    } catch (e: any) {
      setError(e.message);
    }
  };
  const active = h.test.quarantine;
  return (
    <section class="card" aria-label={`test ${h.test.key}`}>
      <h2>{h.test.key}</h2>
      <p class="muted">
        {h.test.file && <code>{h.test.file}</code>} {h.test.runs} runs: {h.test.passed} passed,{" "}
        {h.test.failed} failed, {h.test.skipped} skipped · flaky {h.test.flakes}× in 30 days ·
        median {ms(h.test.median_ms)}
      </p>
      {h.test.cluster && <p class="cluster">{h.test.cluster.text}</p>}
      <div class="test-strip" role="img" aria-label="results and durations, oldest first">
        {points.map((p, i) => (
          <a
            key={i}
            href={`#/runs/${p.run_id}/${encodeURIComponent(p.job)}`}
            class={`bar o-${p.outcome}`}
            style={{ height: `${Math.max(8, (p.ms / top) * 100)}%` }}
            title={`run ${p.run_id} ${p.job} attempt ${p.attempt}: ${p.outcome}, ${ms(p.ms)} · ${short(p.commit)} ${p.branch}${p.agent ? ` on ${p.agent}` : ""}${p.message ? `\n${p.message}` : ""}`}
          />
        ))}
      </div>
      <p class="legend muted">
        <span class="key o-passed" /> passed <span class="key o-failed" /> failed{" "}
        <span class="key o-skipped" /> skipped · height: duration (longest {ms(top)})
      </p>
      {active ? (
        <div class="quarantine">
          <p>
            <span class="tag t-quarantined">quarantined</span> {active.reason} — owner{" "}
            {active.owner}, until {when(active.expires_at_ms)} or {active.clean_needed} clean runs
            in a row ({active.clean_runs} so far). Its failures fail no job; they stay on each run.
          </p>
          {!readOnly(me) && (
            <button
              type="button"
              onClick={() => act(`/api/projects/${q}/quarantines/release`, { test: h.test.key })}
            >
              End the quarantine
            </button>
          )}
        </div>
      ) : (
        !readOnly(me) &&
        h.test.failed > 0 && (
          <form
            class="inline quarantine-form"
            onSubmit={(e) => {
              e.preventDefault();
              act(`/api/projects/${q}/quarantines`, { test: h.test.key, reason, until });
            }}
          >
            <input
              aria-label="reason"
              placeholder="What is wrong with it (you own the fix)"
              value={reason}
              onInput={(e) => setReason((e.target as HTMLInputElement).value)}
            />
            <select
              aria-label="for how long"
              value={until}
              onChange={(e) => setUntil((e.target as HTMLSelectElement).value)}
            >
              <option value="3d">3 days</option>
              <option value="7d">7 days</option>
              <option value="14d">14 days</option>
              <option value="30d">30 days</option>
            </select>
            <button type="submit" disabled={!reason.trim()}>
              Quarantine
            </button>
          </form>
        )
      )}
      <ErrorBox error={error} />
      {h.history.filter((p) => p.message).length > 0 && (
        <>
          <h3>Failures</h3>
          <ul class="failures">
            {h.history
              .filter((p) => p.message)
              .slice(0, 10)
              .map((p, i) => (
                <li key={i}>
                  <a href={`#/runs/${p.run_id}/${encodeURIComponent(p.job)}`}>run {p.run_id}</a>{" "}
                  <span class="muted">
                    {ago(p.at_ms)} · <code>{short(p.commit)}</code>
                    {p.agent && ` · ${p.agent}`}
                  </span>
                  <pre>{p.message}</pre>
                </li>
              ))}
          </ul>
        </>
      )}
      {h.quarantines.length > 0 && (
        <>
          <h3>Quarantines</h3>
          <ul>
            {h.quarantines.map((qq) => (
              <li key={qq.id}>
                {when(qq.created_at_ms)} by {qq.owner}: {qq.reason} — <Badge state={qq.state} />
                {qq.ended_why && <span class="muted"> ({qq.ended_why})</span>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

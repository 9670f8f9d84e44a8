"""SPEC §8's bars against one run's figures: the table, the JSON and the plot."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DATABASES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "≥": operator.ge,
    "≤": operator.le,
    "<": operator.lt,
    "=": operator.eq,
}


@dataclass(frozen=True)
class Bar:
    """`on` `op` `limit`; `on`: the ratio, agentkeep's own figure (`value`), or both figures."""

    op: str
    limit: float
    on: str = "ratio"

    def __str__(self) -> str:
        return f"{'' if self.on == 'ratio' else self.on + ' '}{self.op} {self.limit:g}"

    def met(self, row: Row) -> bool:
        judged: dict[str, list[float | None]] = {
            "ratio": [row.ratio],
            "value": [row.agentkeep],
            "both": [row.agentkeep, row.floor],
        }
        figures = judged[self.on]
        return all(f is not None and _OPERATORS[self.op](f, self.limit) for f in figures)


@dataclass(frozen=True)
class Row:
    """One line of the table. `floor`: the reference the ratio is taken against (the floor app, a
    smaller database, the raw driver); `ratio` = agentkeep / floor."""

    what: str
    agentkeep: float
    floor: float | None = None
    bar: Bar | None = None

    @property
    def ratio(self) -> float | None:
        if not self.floor or (self.bar is not None and self.bar.on != "ratio"):
            return None
        return self.agentkeep / self.floor

    @property
    def met(self) -> bool | None:
        return None if self.bar is None else self.bar.met(self)


def http_rows(http: dict[str, Any]) -> list[Row]:
    """The rows of `{database: {workload: {app: figures}}}` (other keys, as "stack", are not rows)."""
    rows = []
    for database, workloads in _databases(http):
        name = DATABASES[database]
        for workload, apps in workloads.items():
            ours, floor = apps["agentkeep"], apps["floor"]
            rows += [
                Row(f"run-agent req/s, {name}, {workload}", ours["rps"], floor["rps"], Bar("≥", 0.5)),
                Row(f"run-agent p50 ms, {name}, {workload}", ours["p50_ms"], floor["p50_ms"]),
                Row(f"run-agent p99 ms, {name}, {workload}", ours["p99_ms"], floor["p99_ms"], Bar("≤", 2.0)),
            ]
        ours, floor = (sum(_errors(apps[app]) for apps in workloads.values()) for app in ("agentkeep", "floor"))
        rows.append(Row(f"run-agent non-2xx + socket errors, {name}", ours, floor, Bar("=", 0, "both")))
    return rows


def streaming_rows(streaming: dict[str, Any]) -> list[Row]:
    """Streamed runs against the same runs not streamed (the ratio's reference), per database."""
    rows = []
    for database, figures in streaming.items():
        name = DATABASES[database]
        rps = figures["rps"]
        rows += [
            Row(
                f"streamed run req/s, {name} (floor: not streamed)",
                rps["streamed"]["rps"],
                rps["plain"]["rps"],
                Bar("≥", 0.7),
            ),
            Row(
                f"first message.delta ms, {name} (floor: a whole run)",
                figures["first_delta_ms"],
                figures["whole_run_ms"],
                Bar("≤", 1.2),
            ),
        ]
        errors = sum(_errors(rps[mode]) for mode in rps)
        rows.append(
            Row(f"streamed and plain runs non-2xx + socket errors, {name}", errors, errors, Bar("=", 0, "both"))
        )
    return rows


def _databases(http: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(database, workloads) for database, workloads in http.items() if database in DATABASES]


def _errors(figures: dict[str, Any]) -> int:
    return int(figures["non_2xx"] + figures["socket_errors"])


def history_rows(history: dict[str, dict[str, float]]) -> list[Row]:
    rows = []
    for database, by_size in history.items():
        smallest, largest = min(by_size, key=int), max(by_size, key=int)
        what = f"history read ms, {DATABASES[database]}: {_count(largest)} msgs (floor: {_count(smallest)})"
        rows.append(Row(what, by_size[largest], by_size[smallest], Bar("≤", 1.5)))
    return rows


def turn_rows(turn: dict[str, Any]) -> list[Row]:
    what = "in-process turn ms, SQLite (floor: raw sqlite3)"
    return [Row(what, turn["agentkeep_ms"], turn["raw_ms"], Bar("≤", 5.0))]


def migrate_rows(migrate: dict[str, Any]) -> list[Row]:
    profiles = _count(str(migrate["profiles"]))
    seconds = migrate["agentkeep_s"]
    rows = [
        Row(
            f"migrate-agents s, {profiles} profiles (floor: raw executemany)",
            seconds,
            migrate["raw_executemany_s"],
            Bar("≤", 3.0),
        ),
        Row(
            f"migrate-agents s, {profiles} profiles (floor: a commit per row)",
            seconds,
            migrate["commit_per_row_s"],
            Bar("≤", 0.25),
        ),
    ]
    if migrate["peak_rss"]:
        size = max(migrate["peak_rss"], key=int)
        rss = migrate["peak_rss"][size]["peak_rss_mb"]
        rows.append(Row(f"migrate-agents peak RSS MB, {_count(size)} profiles", rss, None, Bar("<", 300, "value")))
    return rows


def test_app_rows(apps: dict[str, Any]) -> list[Row]:
    test, server = apps["test_app"], apps["server_app"]
    return [
        Row(f"test app RSS growth MB, {test['starts']:,} starts", test["growth_mb"], None, Bar("<", 20, "value")),
        Row(f"server app (create_app) RSS growth MB, {server['starts']:,} starts", server["growth_mb"]),
    ]


def _count(size: str) -> str:
    return f"{int(size):,}"


def table(rows: list[Row]) -> str:
    header = ("what", "agentkeep", "floor", "ratio", "bar", "met?")
    lines = [
        (
            row.what,
            _figure(row.agentkeep),
            _figure(row.floor),
            _figure(row.ratio),
            str(row.bar or ""),
            {True: "yes", False: "NO", None: ""}[row.met],
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    aligned = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        )
        for cells in [header, *lines]
    ]
    return "\n".join([aligned[0], "-" * len(aligned[0]), *aligned[1:]])


def _figure(value: float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.2f}"


def write_json(path: Path, report: dict[str, Any], rows: list[Row]) -> None:
    table_rows = [{**asdict(row), "bar": str(row.bar or ""), "ratio": row.ratio, "met": row.met} for row in rows]
    path.write_text(json.dumps({**report, "table": table_rows}, indent=2, default=str) + "\n")


def write_plot(path: Path, report: dict[str, Any]) -> bool:
    """History latency against database size, and requests/s of agentkeep and the floor, for the
    parts that ran; False (and no file) when neither did."""
    from matplotlib.figure import Figure  # the `bench` extra; the rest of this module needs none

    panels = [
        (report[key], draw) for key, draw in (("history", _history_panel), ("http", _http_panel)) if key in report
    ]
    if not panels:
        return False
    # A bare Figure: no pyplot state, no display; savefig renders the PNG with Agg.
    figure = Figure(figsize=(6.5 * len(panels), 4.5))
    for ax, (figures, draw) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels, strict=True):
        draw(ax, figures)
    figure.suptitle(f"agentkeep bench, {report['when']} ({report['machine']['cpus']} cores shared with the load)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def _history_panel(ax: Any, history: dict[str, dict[str, float]]) -> None:
    for database, by_size in history.items():
        sizes = sorted(by_size, key=int)
        ax.plot([int(s) for s in sizes], [by_size[s] for s in sizes], marker="o", label=DATABASES[database])
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("messages in the database")
    ax.set_ylabel("ms (median)")
    ax.set_title("last 50 messages of a session, through agentkeep")
    ax.legend()


def _http_panel(ax: Any, http: dict[str, Any]) -> None:
    groups = [(database, workload) for database, workloads in _databases(http) for workload in workloads]
    width = 0.38
    for offset, app in ((-width / 2, "agentkeep"), (width / 2, "floor")):
        heights = [http[database][workload][app]["rps"] for database, workload in groups]
        ax.bar([i + offset for i in range(len(groups))], heights, width, label=app)
    ax.set_xticks(range(len(groups)), [f"{DATABASES[d]}\n{w}" for d, w in groups])
    ax.set_ylabel("requests/s (median)")
    ax.set_title(f"POST .../run, echo model, uvicorn on {http.get('stack', '?')}")
    ax.legend()

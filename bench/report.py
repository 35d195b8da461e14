"""Write ``bench/report/README.md`` and one plot per benchmark from the benches' JSON.

    .venv/bin/python bench/report.py [--dir bench/report]

Reads ``ledger.json``, ``e2e.json`` and ``ledger_check.json`` from the directory (whichever
exist), as written by the benchmarks' ``--json``; ``make bench`` runs them all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # after choosing the backend


def ledger_section(data: dict[str, Any], out: Path) -> list[str]:
    rows = data["results"]
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    fig, axes = plt.subplots(1, len(backends), figsize=(6 * len(backends), 4), squeeze=False)
    for ax, backend in zip(axes[0], backends, strict=True):
        mine = [r for r in rows if r["backend"] == backend]
        ax.barh([r["label"] for r in mine], [r["vs_naive"] for r in mine], color="#4477aa")
        ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("transfers/s ÷ naive driver, same run (log)")
        ax.set_title(f"Ledger, {backend}")
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(out / "ledger.png", dpi=100)
    plt.close(fig)
    lines = [
        "## Ledger (`bench/ledger.py`)",
        "",
        f"Load average {data['load_average'][0]:.1f} at the start, "
        f"{data['load_average'][1]:.1f} at the end.",
        "",
        "| backend | mode | per s (median) | vs naive driver | vs pgbench TPC-B |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        pgbench = f"{r['vs_pgbench']:.2f}×" if r.get("vs_pgbench") else ""
        lines.append(
            f"| {r['backend']} | {r['label']} | {r['per_s']:,.0f} | {r['vs_naive']:.2f}× "
            f"| {pgbench} |"
        )
    return [*lines, "", "![ledger](ledger.png)", ""]


def e2e_section(data: dict[str, Any], out: Path) -> list[str]:
    rows = data["results"]
    names = [r["name"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.barh(names, [100 * r["ratio"] for r in rows], color="#4477aa")
    left.axvline(10, color="grey", linestyle="--", linewidth=1, label="target 10 %")
    left.set_xlabel("complete payments/s as % of bare /healthz req/s")
    left.legend()
    left.invert_yaxis()
    y = range(len(rows))
    right.barh([i - 0.2 for i in y], [r["confirm_p99_ms"] for r in rows], 0.4, label="confirm")
    right.barh([i + 0.2 for i in y], [r["post_p99_ms"] for r in rows], 0.4, label="post")
    right.axvline(100, color="grey", linestyle="--", linewidth=1, label="target 100 ms")
    right.set_yticks(list(y), names)
    right.set_xlabel("p99 latency, ms")
    right.legend()
    right.invert_yaxis()
    fig.suptitle(f"Payments over HTTP, {data['clients']} clients")
    fig.tight_layout()
    fig.savefig(out / "e2e.png", dpi=100)
    plt.close(fig)
    lines = [
        "## Payments over HTTP (`bench/e2e.py`)",
        "",
        f"{data['clients']} clients, {data['rounds']} rounds of {data['seconds']:.0f} s per load;"
        f" load average {data['load_average'][0]:.1f} at the start,"
        f" {data['load_average'][1]:.1f} at the end.",
        "",
        "| configuration | healthz req/s | payments/s | ratio | post p50/p99 ms "
        "| confirm p50/p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['healthz_per_s']:,.0f} | {r['payments_per_s']:,.1f} "
            f"| {r['ratio']:.1%} | {r['post_p50_ms']:.0f} / {r['post_p99_ms']:.0f} "
            f"| {r['confirm_p50_ms']:.0f} / {r['confirm_p99_ms']:.0f} |"
        )
    return [*lines, "", "![e2e](e2e.png)", ""]


def ledger_check_section(data: dict[str, Any], out: Path) -> list[str]:
    del out  # a table is enough: two figures
    return [
        "## Ledger check (`bench/ledger_check.py`)",
        "",
        f"{data['transfers']:,} transfers between {data['accounts']:,} wallets on PostgreSQL;"
        f" load average {data['load_average'][0]:.1f} at the start,"
        f" {data['load_average'][1]:.1f} at the end.",
        "",
        "| check | seconds | vs one sequential scan of the transfers |",
        "|---|---:|---:|",
        f"| sequential scan (baseline) | {data['scan_s']:.1f} | 1× |",
        f"| `--full` | {data['check_full_s']:.1f} | {data['check_full_s'] / data['scan_s']:.1f}× |",
        f"| default, {data['new_since_checkpoint']:,} transfers since the checkpoint"
        f" | {data['check_fast_s']:.1f} | {data['check_fast_s'] / data['scan_s']:.2f}× |",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "report")
    args = parser.parse_args()
    out: Path = args.dir
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# envoi benchmark report",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs."
        " Every figure that matters is a ratio against a baseline measured in the same run:"
        " the machine may be shared, absolute rates are not comparable between runs.",
        "",
    ]
    sections = {
        "ledger.json": ledger_section,
        "e2e.json": e2e_section,
        "ledger_check.json": ledger_check_section,
    }
    for name, section in sections.items():
        path = out / name
        if path.exists():
            lines += section(json.loads(path.read_text()), out)
    (out / "README.md").write_text("\n".join(lines))
    print(f"report written to {out / 'README.md'}")


if __name__ == "__main__":
    main()

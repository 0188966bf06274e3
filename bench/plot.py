"""Draws the distributions in a bench/compare.rs result file as one PNG (matplotlib).

Usage: python bench/plot.py bench/results/latest.json bench/results/latest.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = [
    ("bootstrap_standbys_streaming_ms", "bootstrap: standbys streaming (ms)"),
    ("switchover_longest_gap_ms", "switchover: longest client gap (ms)"),
    ("crash_writes_back_ms", "postmaster crash: writes back (ms)"),
    ("node_loss_writes_back_ms", "node loss: writes back (ms)"),
    ("node_loss_after_lease_expiry_ms", "node loss: after lease expiry (ms)"),
    ("rss_mib", "agent RSS (MiB)"),
    ("idle_cpu_s_per_hour", "idle CPU (s/hour)"),
    ("etcd_req_per_s_per_agent", "etcd requests/s per agent"),
]
COLORS = {"patroni": "#7f7f7f", "praetor": "#1f77b4"}


def main(src, dst):
    doc = json.load(open(src))
    runs = doc["runs"]
    timings = sorted({r["timing"] for r in runs}, key=lambda t: -int(t.split("/")[0]))
    fig, axes = plt.subplots(2, 4, figsize=(18, 8))
    for ax, (key, title) in zip(axes.flat, PANELS):
        labels, data, colors = [], [], []
        for t in timings:
            for agent in ("patroni", "praetor"):
                vals = [
                    r["result"][key]
                    for r in runs
                    if r["agent"] == agent and r["timing"] == t and r["result"].get(key) is not None
                ]
                labels.append(f"{agent}\n{t}")
                data.append(vals)
                colors.append(COLORS[agent])
        if key.startswith("node_loss"):
            fast = [r[key] for r in doc.get("fast_profile", []) if r.get(key) is not None]
            if fast:
                labels.append("praetor\n5/1/2")
                data.append(fast)
                colors.append("#2ca02c")
        for i, (vals, c) in enumerate(zip(data, colors)):
            ax.scatter([i] * len(vals), vals, color=c, alpha=0.8, s=30)
            if vals:
                med = sorted(vals)[len(vals) // 2]
                ax.hlines(med, i - 0.3, i + 0.3, color=c)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        f"praetor {doc['praetor']} vs Patroni {doc['patroni']} — {doc['generated']}, "
        f"{doc['machine']['cpus']} CPUs (dots: runs, bars: medians)"
    )
    fig.tight_layout()
    fig.savefig(dst, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

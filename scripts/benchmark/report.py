"""Turn the load generator's raw results into rates, percentiles and the comparison table."""

from __future__ import annotations

import json
import subprocess

TARGET_RATE_RATIO = 0.5
TARGET_P99_RATIO = 1.5
TARGET_END_TO_END = 300


def load_results(process: subprocess.Popen) -> dict:
    output, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"load generator failed with {process.returncode}")
    return json.loads(output)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(results: dict) -> dict[str, float]:
    accepted = results["codes"].get("250", 0)
    seconds = (results["last_reply"] or 0) - (results["first_send"] or 0)
    return {
        "accepted": accepted,
        "rate": accepted / seconds if seconds > 0 else 0.0,
        "p50": percentile(results["latencies"], 0.50) * 1000,
        "p99": percentile(results["latencies"], 0.99) * 1000,
        "other": sum(v for k, v in results["codes"].items() if k != "250"),
        "errors": len(results["errors"]),
    }


def table(ours: dict, null: dict | None, end_to_end: dict, sent: int) -> str:
    a = summary(ours)
    b = summary(null) if null else None
    e2e = sent / end_to_end["seconds"] if end_to_end["done"] else 0.0

    def row(label, key, target=""):
        left = f"{a[key]:>10.1f}"
        if b is None:
            return f"{label:<26}{left}"
        ratio = a[key] / b[key] if b[key] else float("nan")
        return f"{label:<26}{left}{b[key]:>14.1f}{ratio:>9.2f}  {target}"

    lines = [
        f"{'':<26}{'gateway':>10}{'do-nothing':>14}{'ratio':>9}",
        row("accepted messages/s", "rate", f"(target >= {TARGET_RATE_RATIO})"),
        row("p50 end of DATA -> 250 ms", "p50"),
        row("p99 end of DATA -> 250 ms", "p99", f"(target <= {TARGET_P99_RATIO})"),
        f"{'end to end messages/s':<26}{e2e:>10.1f}   (target >= {TARGET_END_TO_END}; "
        f"{sent} mails in {end_to_end['seconds']:.2f}s, first sent -> last ticket and "
        f"confirmation written{'' if end_to_end['done'] else '; NOT FINISHED (timeout)'})",
        f"{'gateway CPU per message':<26}{end_to_end['cpu_ms']:>10.2f}   ms (user + system, all "
        "threads; what noise from other processes moves least)",
        f"{'listener CPU per message':<26}{end_to_end['listener_cpu_ms']:>10.2f}   ms (while the "
        "mail is taken: the first role's process and its extra SMTP listeners)",
        f"{'processor CPU per message':<26}{end_to_end['processor_cpu_ms']:>10.2f}   ms (the "
        "process that applies mail, without its parser child: one interpreter lock)",
        f"gateway: {a['accepted']} accepted, {a['other']} other replies, {a['errors']} errors; "
        + ", ".join(f"{k} {v}" for k, v in end_to_end.get("sanity", {}).items()),
    ]
    if b is not None:
        lines.append(f"do-nothing: {b['accepted']} accepted, {b['other']} other replies, "
                     f"{b['errors']} errors")  # fmt: skip
    return "\n".join(lines)

"""The dashboard and the alerts use only metrics the service exposes, and every alert has its
runbook section."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from app.infrastructure.metrics import ServiceMetrics

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\b(?:http|littlewriter)_[a-z_]+\b")


def exposed_names() -> set[str]:
    names: set[str] = set()
    for family in ServiceMetrics().registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
    return names


def test_the_dashboard_uses_only_exposed_metrics() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/littlewriter.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in expressions for name in METRIC.findall(expr)}
    assert used and used <= exposed_names(), used - exposed_names()
    assert "littlewriter_event_streams_open" in used


def test_every_alert_uses_exposed_metrics_and_has_a_runbook_section() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    runbook = (ROOT / "docs/operations.md").read_text()
    for alert in alerts:
        used = set(METRIC.findall(alert["expr"]))
        assert used and used <= exposed_names(), (alert["alert"], used - exposed_names())
        assert f"### {alert['alert']}\n" in runbook, alert["alert"]

"""Prometheus and Alertmanager configuration for the reference stack.

Alertmanager routes by ``team`` to named on-call receivers, every one a webhook into
gameday's sink (``{sink}/alertmanager/{receiver}``), so the sink records which receiver a
notification went to: the route a real pager would use. ``group_by: ['...']`` makes each
alert its own group, and ``group_wait: 0s`` notifies as soon as Prometheus sends it.

One inhibition rule: while the feature store is down (``ServiceDown{service="feature-store"}``,
the platform team's page), the alerts about failing or slow feature fetches and failing
predictions (``FeatureStoreErrors``, ``FeatureStoreLatencyHigh``, ``ModelErrorRateHigh``) are
symptoms of it and are held back. The SLO's ``ErrorBudgetBurn`` is not: users are affected,
and the ML team owns that.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

RECEIVERS = {"ml": "ml-oncall", "data": "data-oncall", "platform": "platform-oncall"}
DEFAULT_RECEIVER = "gameday-default"


def rule_files() -> list[Path]:
    """The alert pack's rule files shipped in the package."""
    folder = resources.files("gameday.stack") / "alerts"
    return sorted(Path(str(f)) for f in folder.iterdir() if f.name.endswith(".rules.yml"))


def scrape_configs(services: Mapping[str, str]) -> list[dict[str, Any]]:
    """One job per service (``{service: "host:port"}``), each target labelled ``service``."""
    return [
        {
            "job_name": name,
            "static_configs": [{"targets": [address], "labels": {"service": name}}],
            "scrape_timeout": "900ms",
        }
        for name, address in services.items()
    ]


def alertmanager_config(sink_url: str, token: str | None = None) -> dict[str, Any]:
    """Routes by team to ``ml-oncall``, ``data-oncall``, ``platform-oncall`` webhooks."""
    names = [*RECEIVERS.values(), DEFAULT_RECEIVER]
    return {
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["..."],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
            "routes": [
                {"receiver": receiver, "matchers": [f'team="{team}"']}
                for team, receiver in RECEIVERS.items()
            ],
        },
        "receivers": [
            {"name": n, "webhook_configs": [_webhook(sink_url, n, token)]} for n in names
        ],
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="ServiceDown"', 'service="feature-store"'],
                "target_matchers": [
                    'alertname=~"FeatureStoreErrors|FeatureStoreLatencyHigh|ModelErrorRateHigh"'
                ],
            }
        ],
    }


def _webhook(sink_url: str, receiver: str, token: str | None) -> dict[str, Any]:
    hook: dict[str, Any] = {
        "url": f"{sink_url.rstrip('/')}/alertmanager/{receiver}",
        "send_resolved": True,
    }
    if token:
        hook["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
    return hook


def impact_queries() -> dict[str, dict[str, str]]:
    """What the model delivers, as the environment's ``impact`` names it: the mean served
    score, the PSI of served scores against the reference, and the realised AUC and accuracy
    over the labelled window. ``gameday sweep`` measures every probe's impact with these."""
    score = "model_prediction_score"
    return {
        "score_mean": {
            "query": f"sum(rate({score}_sum[15s])) / sum(rate({score}_count[15s]))",
            "harm": "change",
        },
        "score_psi": {"query": "max(prediction_psi)", "harm": "rise"},
        "auc": {"query": 'max(model_quality{metric="auc"})', "harm": "drop"},
        "accuracy": {"query": 'max(model_quality{metric="accuracy"})', "harm": "drop"},
    }

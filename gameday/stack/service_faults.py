"""Faults a stack service applies to itself, on request, and drops when their TTL runs out.

The control surface is ``/internal/faults``: ``POST`` ``{"id", "kind", "params", "ttl_s"}``
adds one, ``DELETE /internal/faults/{id}`` removes it and returns its evidence, ``GET`` lists
them. Expiry is checked on every use, so a fault outlives a crashed game-day runner by at
most its TTL: the service enforces it, not the runner.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

MAX_TTL_S = 24 * 3600.0


@dataclass
class ActiveFault:
    """One fault in force: what, with which params, until when, and what it touched."""

    id: str
    kind: str
    params: dict[str, Any]
    expires_at: float
    applied_at: float = field(default_factory=time.time)
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "params": self.params,
            "applied_at": self.applied_at,
            "expires_at": self.expires_at,
            "evidence": self.evidence,
        }


Validator = Callable[[Mapping[str, Any]], dict[str, Any]]


def _inference_params(params: Mapping[str, Any]) -> dict[str, Any]:
    delay = float(params.get("delay_ms", 0))
    fraction = float(params.get("fraction", 1.0))
    if delay < 0 or not 0 <= fraction <= 1:
        raise ValueError("delay_ms must be >= 0 and fraction within [0, 1]")
    return {"delay_ms": delay, "fraction": fraction}


class ServiceFaults:
    """The faults a service currently applies to itself, keyed by id, each with a TTL."""

    def __init__(self, kinds: Mapping[str, Validator] | None = None):
        self.kinds: dict[str, Validator] = dict(
            kinds or {"slow_inference": _inference_params, "error_inference": _inference_params}
        )
        self._faults: dict[str, ActiveFault] = {}
        self.expired: list[ActiveFault] = []

    def active(self, kind: str | None = None) -> list[ActiveFault]:
        """Faults still in force (expired ones are dropped here)."""
        now = time.time()
        for fid, fault in list(self._faults.items()):
            if fault.expires_at <= now:
                self.expired.append(self._faults.pop(fid))
        return [f for f in self._faults.values() if kind is None or f.kind == kind]

    def add(self, doc: Mapping[str, Any]) -> ActiveFault:
        kind = str(doc.get("kind", ""))
        if kind not in self.kinds:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(self.kinds))}")
        params = self.kinds[kind](doc.get("params") or {})
        ttl = float(doc.get("ttl_s", 600))
        if not 0 < ttl <= MAX_TTL_S:
            raise ValueError(f"ttl_s must be within (0, {MAX_TTL_S:g}]")
        fid = str(doc.get("id") or f"{kind}-{len(self._faults) + 1}")
        fault = ActiveFault(fid, kind, params, time.time() + ttl)
        self._faults[fid] = fault
        return fault

    def remove(self, fid: str) -> ActiveFault | None:
        return self._faults.pop(fid, None)

    async def before(self, stage: str) -> None:
        """Hook for the model server's inference: delay and/or fail as the faults say."""
        for fault in self.active():
            if fault.kind == f"slow_{stage}" and random.random() < fault.params["fraction"]:
                fault.evidence["delayed"] = fault.evidence.get("delayed", 0) + 1
                await asyncio.sleep(fault.params["delay_ms"] / 1000.0)
            if fault.kind == f"error_{stage}" and random.random() < fault.params["fraction"]:
                fault.evidence["failed"] = fault.evidence.get("failed", 0) + 1
                raise RuntimeError(f"injected {stage} failure ({fault.id})")

    def mount(self, app: FastAPI) -> None:
        """Add the ``/internal/faults`` control endpoints to ``app``."""

        @app.get("/internal/faults")
        async def list_faults() -> dict[str, Any]:
            return {"faults": [f.to_json() for f in self.active()]}

        @app.post("/internal/faults")
        async def add_fault(request: Request) -> JSONResponse:
            try:
                doc = json.loads(await request.body())
                if not isinstance(doc, dict):
                    raise ValueError("expected a JSON object")
                fault = self.add(doc)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse(fault.to_json(), status_code=201)

        @app.delete("/internal/faults/{fid}")
        async def remove_fault(fid: str) -> JSONResponse:
            fault = self.remove(fid)
            if fault is None:
                return JSONResponse({"error": f"no fault {fid!r}"}, status_code=404)
            return JSONResponse(fault.to_json())

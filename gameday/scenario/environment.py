"""Where a scenario runs: API URLs, logical targets, and the hosts faults may touch.

An environment file (``--env FILE``) or the embedded stack's endpoints (the same keys, see
:meth:`Environment.from_endpoints`) names the toxiproxy API(s), Prometheus, Alertmanager,
the trace sink and the stack's own services, and maps logical targets (``feature-store``)
to what injectors act on. Every host in the file must be in ``allow_hosts``; that is checked
when the file is loaded, before anything connects anywhere.

Secrets (``sink_token``, any key named like *token*, *password* or *secret*, passwords in
URLs) never appear in ``repr``/``str``: use :meth:`Environment.redacted` to show one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictInt,
    StringConstraints,
    model_validator,
)

from gameday.errors import ScenarioError
from gameday.injectors.base import Target
from gameday.redaction import register_secrets_in
from gameday.scenario.expectations import AlertName
from gameday.scenario.yamlsafe import Document, FileModel, KeyPath, did_you_mean, load_file

DEFAULT_ALLOW_HOSTS = ("127.0.0.1", "localhost")
_URL_KEYS = (
    "model_server", "prometheus", "alertmanager", "traces", "feature_store", "pipeline",
    "producer", "control", "drift_monitor", "label_feed", "trainer", "sink", "relay",
)  # fmt: skip
_TARGET_KEYS = ("proxy", "toxiproxy", "batch_dir", "producer", "service", "relay")
FORMATS = ("parquet", "csv", "jsonl")
_SECRET_KEY = re.compile(r"token|password|secret", re.IGNORECASE)
_MASK = "***"


def _check_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is what raises on a malformed one
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL like http://127.0.0.1:9090; got {value!r}")
    return value.rstrip("/")


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Url = Annotated[str, AfterValidator(_check_url)]
UrlList = Annotated[tuple[Url, ...], BeforeValidator(_as_list)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class LoadSettings(FileModel):
    """Where load comes from: ``workers > 0`` runs Locust distributed, ``master`` binds for them."""

    workers: Annotated[StrictInt, Field(ge=0)] = 0
    master: Text | None = None


class SteadyState(FileModel):
    """What the steady state concerns besides the scenario's own alerts: ``alerts`` that must
    be neither pending nor firing before a baseline starts (a team's page-worthy alerts)."""

    alerts: tuple[AlertName, ...] = ()


class RelaySpec(FileModel):
    """One entry of ``relays``: a batch relay from ``upstream`` to ``landing`` (fsspec URLs or
    paths), ensured on the relay server before a run; ``format`` None: from each file's name."""

    upstream: Text
    landing: Text
    format: Literal["parquet", "csv", "jsonl"] | None = None

    @model_validator(mode="after")
    def _apart(self) -> RelaySpec:
        if self.upstream.rstrip("/") == self.landing.rstrip("/"):
            raise ValueError("upstream and landing must be different locations")
        return self


class ImpactQuery(FileModel):
    """One entry of ``impact``: a PromQL query for what the model delivers (served score,
    realised AUC, PSI of the scores), which way is harm, and its unit. ``gameday sweep``
    measures each probe's impact with these (see ``docs/reference/sweep.md``)."""

    query: Text
    harm: Literal["rise", "drop", "change"] = "change"
    unit: str = ""


class TargetSpec(FileModel):
    """One entry of ``targets``: a proxy, a relay, a batch source, a service, or a plug-in's
    own keys.

    Known keys: ``proxy`` (optionally ``toxiproxy``: URL(s) overriding the top-level ones),
    ``relay`` (a relay's name), ``batch_dir`` or ``producer``, ``service``. Other keys are kept
    for third-party injectors:
    merged into the settings of each known binding or, in an entry without known keys,
    forming a target of kind ``kind:`` (or of the entry's first key: ``{queue: orders}``).
    """

    model_config = ConfigDict(extra="allow")
    proxy: Text | None = None
    toxiproxy: UrlList | None = None
    relay: Text | None = None
    batch_dir: Text | None = None
    producer: Url | None = None
    service: Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> TargetSpec:
        if self.batch_dir is not None and self.producer is not None:
            raise ValueError("a target takes batch_dir or producer, not both")
        if self.toxiproxy is not None and self.proxy is None:
            raise ValueError("toxiproxy in a target needs proxy (the proxy name)")
        for key in self.extras:
            # Plug-ins may add keys, so only a near-certain typo of a known key is refused.
            hint = did_you_mean(key, _TARGET_KEYS, cutoff=0.8)
            if hint:
                raise ValueError(f"unknown key {key!r}{hint}")
        if not (self.kinds or self.extras):
            raise ValueError(f"a target needs one of {', '.join(_TARGET_KEYS)}")
        return self

    @property
    def extras(self) -> dict[str, Any]:
        """Keys gameday does not know, kept for plug-ins."""
        return dict(self.__pydantic_extra__ or {})

    @property
    def kinds(self) -> list[str]:
        """The target kinds this entry binds: ``proxy``, ``batch_source``, ``service``."""
        has = {"proxy": self.proxy, "batch_source": self.batch_dir or self.producer}
        has["relay"] = self.relay
        has["service"] = self.service
        return [kind for kind, value in has.items() if value is not None]


class Environment(FileModel):
    """The environment file's keys (CONTRACT.md) plus the embedded stack's endpoints.

    ``targets`` maps logical targets to what injectors act on (the embedded stack's endpoints
    carry its own); ``relay`` is a relay server's API and ``relays`` the relays ensured on it
    before a run (no ``relay``: ``gameday run`` starts its own). ``sink`` (gameday's telemetry
    sink) defaults to ``traces``; ``control`` is a control API (``service`` targets: process
    and service faults); ``landing`` / ``quarantine`` are the stack's batch folders.
    ``metrics_sd_dir``: a folder a Prometheus ``file_sd_configs`` job globs; a run writes
    its own metrics endpoint there (:mod:`gameday.run.metrics`). ``impact``: named PromQL
    measures of what the model delivers, read over every run into its bundle.
    """

    model_server: Url | None = None
    toxiproxy: UrlList = ()
    prometheus: Url | None = None
    alertmanager: Url | None = None
    traces: Url | None = None
    traces_api: Literal["tempo", "jaeger"] = "tempo"
    load: LoadSettings = LoadSettings()
    targets: Mapping[str, TargetSpec] | None = None
    allow_hosts: tuple[Text, ...] = DEFAULT_ALLOW_HOSTS
    feature_store: Url | None = None
    pipeline: Url | None = None
    producer: Url | None = None
    control: Url | None = None
    drift_monitor: Url | None = None
    label_feed: Url | None = None
    trainer: Url | None = None
    sink: Url | None = None
    sink_token: SecretStr | None = None
    landing: Text | None = None
    quarantine: Text | None = None
    metrics_sd_dir: Text | None = None
    steady_state: SteadyState = SteadyState()
    relay: Url | None = None
    relays: Mapping[str, RelaySpec] = Field(default_factory=dict)
    impact: Mapping[str, ImpactQuery] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _relay_targets_name_relays(self) -> Environment:
        for name, spec in (self.targets or {}).items():
            if spec.relay is not None and self.relays and spec.relay not in self.relays:
                known = ", ".join(sorted(self.relays))
                raise ValueError(f"target {name!r}: no relay {spec.relay!r} in relays ({known})")
        if any(s.relay for s in (self.targets or {}).values()) and not (self.relay or self.relays):
            raise ValueError("a relay target needs relays: {...} (or a relay: server that has it)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _sink_defaults_to_traces(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("sink") is None and data.get("traces"):
            return {**data, "sink": data["traces"]}
        return data

    @classmethod
    def from_endpoints(
        cls, endpoints: Mapping[str, Any], source: str = "<endpoints>"
    ) -> Environment:
        """The environment of a running embedded stack, from its endpoints (same keys as a file)."""
        return environment_from_document(Document(source, dict(endpoints)))

    def __repr__(self) -> str:
        return f"Environment({self.redacted()!r})"

    __str__ = __repr__

    def redacted(self) -> dict[str, Any]:
        """The environment as JSON data with every secret replaced by ``***``."""
        return _redact(self.model_dump(mode="json", exclude_none=True))

    def sink_token_for(self, url: str) -> str | None:
        """gameday's sink token when ``url`` is that sink (the embedded stack serves its
        traces there); never sent to any other server."""
        token = self.sink_token
        if token is None or not self.sink or url.rstrip("/") != self.sink.rstrip("/"):
            return None
        return token.get_secret_value()

    def allows(self, host: str) -> bool:
        """Whether ``host`` matches ``allow_hosts`` (exact, ``*.domain``, or a CIDR range)."""
        return any(_host_matches(host, pattern) for pattern in self.allow_hosts)

    def refused_addresses(self, settings: object) -> list[str]:
        """Every URL in a target's ``settings`` (nested anywhere) whose host is not allowed."""
        return [
            value
            for value in _strings(settings)
            if "://" in value and not self.allows(host_of(value))
        ]

    def target_names(self) -> list[str]:
        """Every logical target this environment resolves, sorted."""
        return sorted(self.targets or {})

    def resolve(self, target_name: str, injector: Any) -> Target:
        """The :class:`Target` that ``injector`` (class or instance) acts on for ``target_name``.

        Picks the binding whose kind is in ``injector.target_kinds`` (any, if it declares
        none). Raises :class:`ScenarioError` for an unknown target (listing the known ones), a
        kind mismatch, or a URL the binding needs that the environment lacks.
        """
        bindings = self._bindings(target_name)
        kinds = tuple(getattr(injector, "target_kinds", ()))
        for target in bindings:
            if not kinds or target.kind in kinds:
                return _complete(target)
        have = " or ".join(sorted({t.kind for t in bindings}))
        name = getattr(injector, "name", type(injector).__name__)
        raise ScenarioError(
            f"{name} acts on a {' or '.join(kinds)}; target {target_name!r} is a {have}"
        )

    def _bindings(self, name: str) -> list[Target]:
        """Every way ``name`` can be read; URLs the environment lacks are left None."""
        spec = (self.targets or {}).get(name)
        out = self._spec_bindings(name, spec) if spec is not None else []
        if not out:
            known = self.target_names()
            hint = did_you_mean(name, known)
            listed = ", ".join(known) or "none (the environment has no targets:)"
            raise ScenarioError(f"unknown target {name!r}; known: {listed}{hint}")
        return out

    def _spec_bindings(self, name: str, spec: TargetSpec) -> list[Target]:
        extras = spec.extras
        out = []
        if spec.proxy is not None:
            out.append(self._proxy(name, spec.proxy, spec.toxiproxy or self.toxiproxy, extras))
        if spec.relay is not None:
            out.append(Target(name, "relay", {"relay": self.relay, "name": spec.relay, **extras}))
        if spec.batch_dir is not None:
            out.append(Target(name, "batch_source", {"batch_dir": spec.batch_dir, **extras}))
        if spec.producer is not None:
            out.append(Target(name, "batch_source", {"producer": spec.producer, **extras}))
        if spec.service is not None:
            out.append(self._service(name, spec.service, extras))
        return out or [_plugin_target(name, extras)]

    def _proxy(
        self, name: str, proxy: str, urls: tuple[str, ...], extras: dict[str, Any]
    ) -> Target:
        return Target(name, "proxy", {"toxiproxy": list(urls), "proxy": proxy, **extras})

    def _service(self, name: str, service: str, extras: dict[str, Any]) -> Target:
        return Target(name, "service", {"control": self.control, "service": service, **extras})

    def hosts(self) -> Iterator[tuple[KeyPath, str]]:
        """Every ``(key path, host)`` the file points at; the allowlist checks each one."""
        for key in _URL_KEYS:
            yield from _url_hosts((key,), getattr(self, key))
        for i, url in enumerate(self.toxiproxy):
            yield from _url_hosts(("toxiproxy", i), url)
        if self.load.master is not None:
            yield ("load", "master"), host_of(self.load.master)
        for name, spec in (self.targets or {}).items():
            yield from _target_hosts(("targets", name), spec)


def _plugin_target(name: str, extras: dict[str, Any]) -> Target:
    """A target for a plug-in's injector: kind from ``kind:``, else the entry's first key."""
    kind = extras.get("kind")
    kind = kind if isinstance(kind, str) and kind else next(iter(extras))
    return Target(name, kind, extras)


def _complete(target: Target) -> Target:
    """``target``, or a ScenarioError naming the environment key it still needs."""
    for key in ("toxiproxy", "producer", "control"):  # a relay URL may come at run time
        if key in target.settings and not target.settings[key]:
            raise ScenarioError(f"target {target.name!r} needs {key!r} (a URL) in the environment")
    return target


def _target_hosts(at: KeyPath, spec: TargetSpec) -> Iterator[tuple[KeyPath, str]]:
    for i, url in enumerate(spec.toxiproxy or ()):
        yield from _url_hosts((*at, "toxiproxy", i), url)
    yield from _url_hosts((*at, "producer"), spec.producer)
    for key, value in spec.extras.items():
        if isinstance(value, str) and "://" in value:
            yield from _url_hosts((*at, key), value)


def _url_hosts(at: KeyPath, url: str | None) -> Iterator[tuple[KeyPath, str]]:
    host = urlsplit(url).hostname if url else None
    if host:
        yield at, host


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def host_of(address: str) -> str:
    """The host of a URL, ``host``, ``host:port`` or ``[::1]:port`` (else ``address`` itself)."""
    try:
        return urlsplit(address if "://" in address else f"//{address}").hostname or address
    except ValueError:  # "[::1" and friends: not parseable, so never allowed unless listed
        return address


def _host_matches(host: str, pattern: str) -> bool:
    host, pattern = host.lower().strip("[]"), pattern.lower()
    if host == pattern:
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    if "/" in pattern:
        try:
            return ipaddress.ip_address(host) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return False


def _redact(value: Any, key: str = "") -> Any:
    if key and _SECRET_KEY.search(key) and value is not None:
        return _MASK
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return _redact_url(value)
    return value


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:{_MASK}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def load_environment(path: str | Path) -> Environment:
    """Read an environment file; :class:`ScenarioError` (``file:line: message``) if it is bad.

    Refuses unknown keys, malformed URLs and any host outside ``allow_hosts``.
    """
    return environment_from_document(load_file(path))


def environment_from_document(doc: Document) -> Environment:
    """Validate a parsed environment document, allowlist included."""
    if doc.data is None:
        return Environment().located(doc.location())
    if not isinstance(doc.data, dict):
        raise doc.error("an environment file is a mapping of keys like toxiproxy: URL")
    register_secrets_in(doc.data)  # masked in everything gameday prints from now on
    env = doc.validate(Environment)
    for at, host in env.hosts():
        if not env.allows(host):
            allowed = ", ".join(env.allow_hosts)
            raise doc.error(f"host {host!r} is not in allow_hosts [{allowed}]", at)
    return env.located(doc.location())

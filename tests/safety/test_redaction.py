"""Secrets are masked in text, in JSON data, and in everything a process prints."""

from __future__ import annotations

import io
from pathlib import Path

from gameday.redaction import RedactingStream, redact, redact_text, register_secrets_in
from gameday.scenario.environment import load_environment


def test_passwords_in_urls_are_masked_and_the_rest_of_the_url_kept() -> None:
    text = "POST http://ops:s3cr3t-pw@10.0.0.5:8474/proxies failed"
    assert redact_text(text) == "POST http://ops:***@10.0.0.5:8474/proxies failed"
    assert redact_text("http://ops@host:1/x") == "http://ops@host:1/x"  # no password: as is


def test_tokens_in_messages_are_masked() -> None:
    assert redact_text("Authorization: Bearer abc.def-123") == "Authorization: Bearer ***"
    assert redact_text("sink_token: abcdef; next") == "sink_token: ***; next"
    assert redact_text('{"api_key": "k-123456"}') == '{"api_key": "***"}'
    assert redact_text("password=hunter22 user=x") == "password=*** user=x"


def test_json_data_is_masked_by_key_and_inside_urls() -> None:
    data = {
        "sink_token": "t-123456",
        "toxiproxy": ["http://a:pw-1234@h:1"],
        "nested": {"db_password": "x", "count": 3, "ttl_enforced": True},
    }
    assert redact(data) == {
        "sink_token": "***",
        "toxiproxy": ["http://a:***@h:1"],
        "nested": {"db_password": "***", "count": 3, "ttl_enforced": True},
    }
    assert data["sink_token"] == "t-123456"  # a copy: the original is untouched


def test_secrets_read_from_an_environment_file_are_masked_wherever_they_appear(
    tmp_path: Path,
) -> None:
    env = tmp_path / "env.yaml"
    env.write_text("sink_token: zq-token-77123\nprometheus: http://u:zq-pass-55421@127.0.0.1:9\n")
    load_environment(env)
    assert redact_text("echo zq-token-77123 and zq-pass-55421") == "echo *** and ***"


def test_a_redacting_stream_masks_a_secret_split_across_writes() -> None:
    register_secrets_in({"token": "split-secret-9931"})
    sink = io.StringIO()
    stream = RedactingStream(sink)
    stream.write("first split-se")
    stream.write("cret-9931 then\nsecond line")
    assert sink.getvalue() == "first *** then\n"
    stream.flush()
    assert sink.getvalue() == "first *** then\nsecond line"


def test_a_redacting_stream_keeps_live_status_lines_working() -> None:
    sink = io.StringIO()
    stream = RedactingStream(sink)
    stream.write("\r\x1b[2K[fault 3 s left] http://u:pw-0001@h:1")
    stream.flush()
    assert sink.getvalue() == "\r\x1b[2K[fault 3 s left] http://u:***@h:1"
    assert stream.isatty() is False

"""The telemetry sink: OTLP/HTTP spans in, Tempo's trace API out, Alertmanager webhooks."""

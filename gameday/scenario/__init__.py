"""The scenario model: scenario and environment files, expectations, durations, the catalogue.

Everything here reads and checks input; nothing runs. Errors are ``file:line: message``
(:class:`~gameday.errors.ScenarioError`).
"""

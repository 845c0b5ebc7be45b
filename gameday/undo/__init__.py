"""Undo: the journal of faults in force, ``gameday recover`` and the watchdog."""

"""``gameday sweep``: a blind-spot search over a fault's magnitude (see ``command``)."""

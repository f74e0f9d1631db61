"""Fault-injection and security suite (issue 6): the matrix S01-S36 and the invariants I1-I9."""

"""Tests of the documentation: its examples run and what it says matches the code."""

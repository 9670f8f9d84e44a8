"""Test helpers shared by more than one test folder: entity builders, the storage fixtures, the
state comparison, the fake OpenAI-compatible server and the automagik source databases. A helper used
by one folder only stays beside its tests."""

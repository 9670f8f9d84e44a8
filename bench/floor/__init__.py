"""The floor apps of SPEC §8: agentkeep's run statements on the raw driver, with no layers, served by
uvicorn exactly as `agentkeep serve` serves agentkeep. `python -m bench.floor --database-url URL`."""

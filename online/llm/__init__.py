"""Runs the core's LLM backends off the event loop (:class:`online.llm.runner.GenerationRunner`)."""
